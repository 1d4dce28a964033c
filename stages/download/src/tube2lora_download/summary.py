"""The download stage's lines in `tube2lora summary`."""

from __future__ import annotations

from tube2lora_shared.manifest import Manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import reasons


def lines(run: RunDir, manifest: Manifest) -> list[str]:
    c = manifest.counts
    line = f"videos     {c.get('success', 0) + c.get('cached', 0)} downloaded"
    if c.get("skipped"):
        line += f", {c['skipped']} skipped ({reasons(c, 'dropped_')})"
    if c.get("failed"):
        line += f", {c['failed']} failed ({reasons(c, 'failed_')})"
    return [line]
