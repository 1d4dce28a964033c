"""The listing a run was built from, and when to list again (download.relist_after_hours).

    stages/download/listing.json   when the sources were listed, what each gave (a count and a digest of
                                   the listed ids), the digest of them all

A channel grows: once the listing is older than `relist_after_hours` (0: every run; null: only with --force),
Make runs the finished download stage again (`tube2lora run-dir --due`, which reads this file and run.json, no
network). The stage lists again; an identical listing keeps what is published (downstream stays current) and
notes the time in run.json (`refreshed_at`); a different one is a normal run, whose media come from the cache.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import ClassVar

from pydantic import BaseModel

from tube2lora_shared.documents import Document
from tube2lora_shared.hashing import sha256_json
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.pipeline import Freshness
from tube2lora_shared.rundir import RunDir, now_iso

from .config import DownloadConfig


class SourceListing(BaseModel):
    url: str
    videos: int  # distinct videos it listed
    digest: str  # of their sorted ids
    single: bool = False  # a single-video URL: listing it again finds nothing new
    error: str | None = None  # it could not be listed


class ListingRecord(Document):
    """listing.json: what the sources listed when the published videos were chosen."""

    FILE: ClassVar[str] = "listing.json"
    listed_at: str  # ISO 8601, UTC
    videos: int  # distinct videos over every source
    digest: str  # of every listed id, sorted: the same set of videos gives the same digest
    sources: list[SourceListing]

    @classmethod
    def build(cls, sources: list[tuple[str, list[str], bool, str | None]]) -> "ListingRecord":
        """From (url, listed ids, single video?, error) per source."""
        every = sorted({i for _, ids, _, _ in sources for i in ids})
        return cls(listed_at=now_iso(), videos=len(every), digest=sha256_json(every), sources=[
            SourceListing(url=url, videos=len(set(ids)), digest=sha256_json(sorted(set(ids))), single=single,
                          error=error) for url, ids, single, error in sources])

    def failed(self) -> list[SourceListing]:
        return [s for s in self.sources if s.error]

    def describe(self) -> str:
        n = len(self.sources)
        return f"{self.videos} video(s) from {n} source{'s' if n != 1 else ''}, listed {show_time(self.listed_at)}"


def freshness(run: RunDir, cfg: DownloadConfig) -> Freshness:
    """When the published download looked at its sources, and whether it is time to look again."""
    stage = run.stage_dir("download")
    record = ListingRecord.find(stage)
    refreshed = run.read_status().get("stages", {}).get("download", {}).get("refreshed_at")
    if record is None:  # published by a version that kept no listing record
        manifest = read_manifest(stage)
        if manifest is None:
            return Freshness("not listed yet")
        last, note = manifest.started_at, f"listed {show_time(manifest.started_at)} (no listing record)"
    else:
        last, note = record.listed_at, record.describe()
    if refreshed and _time(refreshed) > _time(last):
        last, note = refreshed, f"{note}; listed again {show_time(refreshed)}, unchanged"
    hours = cfg.relist_after_hours
    if hours is None:
        return Freshness(f"{note}; listed again only with FORCE=1 (download.relist_after_hours: null)")
    if record is not None and record.sources and all(s.single for s in record.sources):
        return Freshness(f"{note}; single videos only: never listed again")
    if hours == 0:
        return Freshness(note, due="download.relist_after_hours is 0: every run lists again")
    age = (datetime.now(timezone.utc) - _time(last)).total_seconds() / 3600
    if age < hours:
        return Freshness(f"{note}; listed again after {hours:g} h (download.relist_after_hours)")
    return Freshness(note, due=f"the listing is {age:.1f} h old (download.relist_after_hours: {hours:g})")


def show_time(iso: str) -> str:
    return _time(iso).strftime("%Y-%m-%d %H:%M UTC")


def _time(iso: str) -> datetime:
    found = datetime.fromisoformat(iso)
    return found if found.tzinfo else found.replace(tzinfo=timezone.utc)
