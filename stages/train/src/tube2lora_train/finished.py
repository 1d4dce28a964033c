"""A finished training kept in the cache beside its checkpoints (`<work>/finished/`: the adapter as saved and
its metrics), so a new run directory with the same train inputs (another evaluate or export setting, a second
checkout of the same recipe) takes the adapter instead of training again. Resuming a finished training from
its last checkpoint instead would load the model, evaluate, and take a step past `max_steps` (transformers
resumes into the next step), each time.

Not used under torchrun (WORLD_SIZE > 1): every process would copy; those runs resume as before."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tube2lora_shared.documents import TrainingMetrics
from tube2lora_shared.errors import StageError

FINISHED = "finished"


def keep(work: Path, adapter: Path, metrics: TrainingMetrics) -> None:
    """Keep the saved adapter and its metrics under `work`, whole or not at all."""
    partial = work / f"{FINISHED}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(adapter, partial / "adapter")
    metrics.write(partial)
    shutil.rmtree(work / FINISHED, ignore_errors=True)
    partial.rename(work / FINISHED)


def reusable(work: Path) -> TrainingMetrics | None:
    """The metrics of a training finished with these inputs, when its adapter is there to take (None under
    torchrun, or when nothing finished or what is kept cannot be read: then it trains)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or not (work / FINISHED / "adapter").is_dir():
        return None
    try:
        return TrainingMetrics.find(work / FINISHED)
    except StageError:
        return None


def restore(work: Path, adapter: Path) -> None:
    shutil.copytree(work / FINISHED / "adapter", adapter, dirs_exist_ok=True)
