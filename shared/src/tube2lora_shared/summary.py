"""A run's headline: where its products are and what they amount to, read from what the stages wrote.

Used by `tube2lora summary` (and `make demo` at its end). Missing stages are shown as not run, so
the summary of a half-finished run says how far it got.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .manifest import read_manifest
from .pipeline import stage_names
from .rundir import RunDir

PLAIN = ("success", "cached", "skipped", "failed")


def _json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
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

    datasets = _json(run.stage_dir("generate") / "dataset_manifest.json") if manifests["generate"] else None
    for name, gen in (datasets or {}).get("generators", {}).items():
        rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(gen.get("rejected", {}).items(),
                                                                     key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"  examples   {name}: {gen['accepted']} of {gen['attempted']} accepted"
                     + (f" (rejected: {rejected})" if rejected else "")
                     + f" -> {_show(run.stage_dir('generate') / gen['file'])}")

    if manifests["train"] is not None:
        metrics = _json(run.stage_dir("train") / "training_metrics.json") or {}
        lines.append(f"  adapter    {_show(run.artifacts_dir('train') / 'adapter')} "
                     f"({metrics.get('train_examples', '?')} training conversations, {metrics.get('steps', '?')} steps, "
                     f"eval loss {_num(metrics.get('eval_loss'))})")

    evaluation = _json(run.stage_dir("evaluate") / "evaluation.json") if manifests["evaluate"] else None
    if evaluation:
        for text, pair in evaluation["perplexity"].items():
            lines.append(f"  perplexity held-out {text}: base {_num(pair['base'])} -> adapter {_num(pair['adapter'])}")
        lines.append(f"  report     {_show(run.stage_dir('evaluate') / 'report.html')}")
    return lines


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "n/a"
