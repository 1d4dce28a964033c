"""The filter stage's lines in `tube2lora summary`."""

from __future__ import annotations

from tube2lora_shared.manifest import Manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import reasons


def lines(run: RunDir, manifest: Manifest) -> list[str]:
    c = manifest.counts
    kept = c.get("success", 0) + c.get("cached", 0)
    dropped = sum(1 for item in manifest.items.values() if item.status == "skipped")
    return [f"kept       {kept} of {kept + dropped} transcripts after the filter"
            + (f" (dropped: {reasons(c, 'dropped_')})" if dropped else "")]
