"""The train stage's lines in `tube2lora summary`: where the adapter is, what it was trained on (the
mix's achieved token shares) and which checkpoint was kept."""

from __future__ import annotations

from tube2lora_shared.documents import SourceMix, TrainedAdapter, TrainingMetrics
from tube2lora_shared.manifest import Manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import find_document, number, show_path


def lines(run: RunDir, manifest: Manifest) -> list[str]:
    metrics = find_document(TrainingMetrics, run.stage_dir("train"))
    trained = find_document(TrainedAdapter, run.stage_dir("train"))
    adapter = run.root / trained.adapter_path if trained else run.artifacts_dir("train") / "adapter"
    if not metrics:
        return [f"adapter    {show_path(adapter)} (no training metrics)"]
    kept = (f"best step {metrics.best_step} of {metrics.steps}{', stopped early' if metrics.stopped_early else ''}"
            if metrics.best_step else f"{metrics.steps} steps")
    out = [f"adapter    {show_path(adapter)} ({metrics.train_examples} training rows, {kept}, "
           f"eval loss {number(metrics.eval_loss)})"]
    used = {name: m for name, m in metrics.mix.items() if m.rows}
    if used:
        out.append("  mix      " + ", ".join(f"{name} {m.share:.0%} ({_rows(m)})" for name, m in used.items())
                   + " of the supervised tokens")
    return out


def _rows(source: SourceMix) -> str:
    """"6 of 6 rows, repeated to 16" where repeats made up the share, else "7 of 11 rows"."""
    unique = source.unique_rows or source.rows
    repeated = f", repeated to {source.rows}" if source.rows > unique else ""
    return f"{unique} of {source.available_rows} rows{repeated}"
