"""The download stage's lines in `tube2lora summary`."""

from __future__ import annotations

from tube2lora_shared.errors import StageError
from tube2lora_shared.manifest import Manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import reasons

from .listing import ListingRecord, show_time


def lines(run: RunDir, manifest: Manifest) -> list[str]:
    c = manifest.counts
    line = f"videos     {c.get('success', 0) + c.get('cached', 0)} downloaded"
    if c.get("skipped"):
        line += f", {c['skipped']} skipped ({reasons(c, 'dropped_')})"
    if c.get("failed"):
        line += f", {c['failed']} failed ({reasons(c, 'failed_')})"
    return [line, _listing(run)]


def _listing(run: RunDir) -> str:
    try:
        record = ListingRecord.find(run.stage_dir("download"))
    except StageError:
        record = None
    if record is None:
        return "listing    no listing record (an older run): `make download FORCE=1` lists again"
    line = f"listing    {record.describe()}"
    refreshed = run.read_status().get("stages", {}).get("download", {}).get("refreshed_at")
    if refreshed and refreshed > record.listed_at:
        line += f"; listed again {show_time(refreshed)}, unchanged"
    return line
