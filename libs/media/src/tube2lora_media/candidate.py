"""A listed video: what the listing and, once extracted, yt-dlp's full metadata say about it (pure)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def safe_id(raw: str) -> str:
    """A file-name safe id: YouTube ids pass unchanged, others are cleaned and tagged with a hash."""
    if SAFE_ID.match(raw):
        return raw
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", raw).strip("_")[:48] or "video"
    return f"{cleaned}-{hashlib.sha1(raw.encode()).hexdigest()[:8]}"


def upload_day(info: dict[str, Any]) -> str | None:
    """YYYYMMDD from a yt-dlp dict: the timestamp when there is one, else upload_date."""
    for key in ("timestamp", "release_timestamp"):
        if isinstance(info.get(key), (int, float)):
            return datetime.fromtimestamp(info[key], tz=timezone.utc).strftime("%Y%m%d")
    value = info.get("upload_date")
    return value if isinstance(value, str) and re.fullmatch(r"\d{8}", value) else None


@dataclass(frozen=True)
class Candidate:
    """A listed video, known from its listing entry and, once extracted, its full metadata."""

    url: str
    entry: dict[str, Any] = field(repr=False)  # what the listing gave (processed by yt-dlp later)
    id: str | None = None
    archive_id: str | None = None  # yt-dlp's download-archive id, "<extractor> <id>"
    title: str | None = None
    description: str | None = None
    duration: float | None = None
    upload_date: str | None = None  # YYYYMMDD
    live_status: str | None = None
    is_short: bool = False
    extractor: str | None = None
    channel: str | None = None
    channel_id: str | None = None
    manual_captions: tuple[str, ...] = ()
    auto_captions: tuple[str, ...] = ()
    extracted: bool = False  # full metadata known

    def with_info(self, info: dict[str, Any], archive_id: str | None) -> "Candidate":
        """Fill in what the full extraction knows; the listing's own values stay (a feed's dates win)."""
        return replace(
            self,
            id=self.id or info.get("id"),
            archive_id=self.archive_id or archive_id,
            title=self.title or info.get("title"),
            description=self.description or info.get("description"),
            duration=self.duration if self.duration is not None else info.get("duration"),
            upload_date=self.upload_date or upload_day(info),
            live_status=info.get("live_status") or self.live_status,
            is_short=self.is_short or "/shorts/" in (info.get("webpage_url") or ""),
            extractor=info.get("extractor_key") or self.extractor,
            channel=info.get("channel") or info.get("uploader") or self.channel,
            channel_id=info.get("channel_id") or info.get("uploader_id") or self.channel_id,
            manual_captions=tuple(sorted(info.get("subtitles") or {})),
            auto_captions=tuple(sorted(info.get("automatic_captions") or {})),
            extracted=True,
        )

    @property
    def safe_id(self) -> str:
        return safe_id(self.id or self.url)
