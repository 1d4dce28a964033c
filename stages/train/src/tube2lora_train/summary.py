"""The train stage's line in `tube2lora summary`: where the adapter is and what it was trained on."""

from __future__ import annotations

from tube2lora_shared.documents import TrainedAdapter, TrainingMetrics
from tube2lora_shared.manifest import Manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import find_document, number, show_path


def lines(run: RunDir, manifest: Manifest) -> list[str]:
    metrics = find_document(TrainingMetrics, run.stage_dir("train"))
    trained = find_document(TrainedAdapter, run.stage_dir("train"))
    adapter = run.root / trained.adapter_path if trained else run.artifacts_dir("train") / "adapter"
    return [f"adapter    {show_path(adapter)} ({metrics.train_examples if metrics else '?'} training conversations, "
            f"{metrics.steps if metrics else '?'} steps, eval loss {number(metrics and metrics.eval_loss)})"]
