"""The train stage's lines in `tube2lora summary`: where the adapter is, what it was trained on (the
mix's achieved token shares) and which checkpoint was kept."""

from __future__ import annotations

from tube2lora_shared.documents import TrainedAdapter, TrainingMetrics
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
        out.append("  mix      " + ", ".join(f"{name} {m.share:.0%} ({m.rows} of {m.available_rows} rows)"
                                          for name, m in used.items()) + " of the supervised tokens")
    return out
