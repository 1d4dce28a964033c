"""Which listed videos to fetch: the filters on candidates (pure, no I/O)."""

from __future__ import annotations

import re
from datetime import date

from tube2lora_media.candidate import Candidate

from .config import DownloadConfig

LIVE_STATES = {"is_live", "is_upcoming", "post_live", "was_live"}


def skip_reason(c: Candidate, cfg: DownloadConfig) -> str | None:
    """Why a candidate is not downloaded, or None; applied on listing data and again on full data."""
    if not cfg.include_shorts and (
        c.is_short or (c.duration is not None and c.duration <= cfg.shorts_max_seconds)
    ):
        return "short"
    if not cfg.include_live and c.live_status in LIVE_STATES:
        return "live"
    title = c.title or ""
    if cfg.title_include and not re.search(cfg.title_include, title, re.I):
        return "title_filter"
    if cfg.title_exclude and re.search(cfg.title_exclude, title, re.I):
        return "title_filter"
    if c.upload_date and (cfg.date_after or cfg.date_before):
        day = date(int(c.upload_date[:4]), int(c.upload_date[4:6]), int(c.upload_date[6:]))
        if (cfg.date_after and day < cfg.date_after) or (cfg.date_before and day > cfg.date_before):
            return "date_window"
    return None


def iso_day(yyyymmdd: str | None) -> str | None:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}" if yyyymmdd else None
