"""The training curves, read back from the trainer's TensorBoard logs."""

from __future__ import annotations

from pathlib import Path

TAGS = ("train/loss", "eval/loss")


def loss_curves(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    """train/loss and eval/loss scalars as the trainer logged them to TensorBoard: (step, value), sorted."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    curves: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(logdir.rglob("events.out.tfevents*")):
        acc = EventAccumulator(str(events.parent))
        acc.Reload()
        for tag in TAGS:
            if tag in acc.Tags().get("scalars", []):
                curves.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return {k: sorted(set(v)) for k, v in curves.items()}
