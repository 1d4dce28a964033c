"""A run's headline: where its products are and what they amount to, read from what the stages wrote.

Used by `tube2lora summary` (and `make demo` at its end). Missing stages are shown as not run, so
the summary of a half-finished run says how far it got.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .documents import D, DatasetManifest, Evaluation, TrainedAdapter, TrainingMetrics
from .errors import StageError
from .manifest import read_manifest
from .pipeline import stage_names
from .rundir import RunDir

PLAIN = ("success", "cached", "skipped", "failed")


def _find(document: type[D], stage_dir: Path) -> D | None:
    """A stage's document, or None when it is missing or unreadable: a summary never fails."""
    try:
        return document.find(stage_dir)
    except StageError:
        return None


def _reasons(counts: dict[str, int], prefix: str) -> str:
    found = sorted(((k[len(prefix):], v) for k, v in counts.items() if k.startswith(prefix) and v),
                   key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{name} {n}" for name, n in found)


def _show(path: Path) -> str:
    """Relative to the current directory when inside it, else absolute."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def summary_lines(run: RunDir) -> list[str]:
    manifests = {stage: read_manifest(run.stage_dir(stage)) for stage in stage_names()}
    lines = [f"run {run.id}: {_show(run.root)}"]
    missing = [s for s, m in manifests.items() if m is None]
    if missing:
        lines.append(f"  not finished: {', '.join(missing)}")

    if (download := manifests["download"]) is not None:
        c = download.counts
        got = c.get("success", 0) + c.get("cached", 0)
        line = f"  videos     {got} downloaded"
        if c.get("skipped"):
            line += f", {c['skipped']} skipped ({_reasons(c, 'dropped_')})"
        if c.get("failed"):
            line += f", {c['failed']} failed ({_reasons(c, 'failed_')})"
        lines.append(line)
    if (filtered := manifests["filter"]) is not None:
        c = filtered.counts
        kept = c.get("success", 0) + c.get("cached", 0)
        dropped = sum(1 for item in filtered.items.values() if item.status == "skipped")
        lines.append(f"  kept       {kept} of {kept + dropped} transcripts after the filter"
                     + (f" (dropped: {_reasons(c, 'dropped_')})" if dropped else ""))

    datasets = _find(DatasetManifest, run.stage_dir("generate")) if manifests["generate"] else None
    for name, gen in (datasets.generators if datasets else {}).items():
        rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(gen.rejected.items(),
                                                                     key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"  examples   {name}: {gen.accepted} of {gen.attempted} accepted"
                     + (f" (rejected: {rejected})" if rejected else "")
                     + (f" -> {_show(run.stage_dir('generate') / gen.file)}" if gen.file else ""))

    if manifests["train"] is not None:
        metrics = _find(TrainingMetrics, run.stage_dir("train"))
        trained = _find(TrainedAdapter, run.stage_dir("train"))
        adapter = run.root / trained.adapter_path if trained else run.artifacts_dir("train") / "adapter"
        lines.append(f"  adapter    {_show(adapter)} "
                     f"({metrics.train_examples if metrics else '?'} training conversations, "
                     f"{metrics.steps if metrics else '?'} steps, eval loss {_num(metrics and metrics.eval_loss)})")

    evaluation = _find(Evaluation, run.stage_dir("evaluate")) if manifests["evaluate"] else None
    if evaluation:
        for text, pair in evaluation.perplexity.items():
            lines.append(f"  perplexity held-out {text}: base {_num(pair['base'])} -> adapter {_num(pair['adapter'])}")
        lines.append(f"  report     {_show(run.stage_dir('evaluate') / Evaluation.REPORT_HTML)}")
    return lines


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "n/a"
