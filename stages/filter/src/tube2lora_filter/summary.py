"""The filter stage's lines in `tube2lora summary`: kept of all, the drop reasons, and every gate that failed
when a video failed more than one (a too-short video in the wrong language counts under both)."""

from __future__ import annotations

from tube2lora_shared.manifest import Manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import reasons


def lines(run: RunDir, manifest: Manifest) -> list[str]:
    c = manifest.counts
    kept = c.get("success", 0) + c.get("cached", 0)
    dropped = sum(1 for item in manifest.items.values() if item.status == "skipped")
    failed = {k.removeprefix("gate_failed_"): v for k, v in c.items() if k.startswith("gate_failed_")}
    drops = {k.removeprefix("dropped_"): v for k, v in c.items() if k.startswith("dropped_")}
    every = f"; gates failed: {reasons(c, 'gate_failed_')}" if failed and failed != drops else ""
    return [f"kept       {kept} of {kept + dropped} transcripts after the filter"
            + (f" (dropped: {reasons(c, 'dropped_')}{every})" if dropped else "")]
