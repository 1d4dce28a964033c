"""Audio on demand, for a stage that finds a video without media (download ran with media none/auto
and captions fell through), or whose media turned out damaged: fetched the way the download stage fetches
(its FetchSettings), into the same media-cache entry."""

from __future__ import annotations

import logging
from pathlib import Path

from tube2lora_shared.cache import Cache
from tube2lora_shared.documents import FetchSettings
from tube2lora_shared.records import Video

from .candidate import Candidate
from .mediacache import MEDIA, archive_path, drop_damaged, media_key, store, variant_of
from .politeness import CircuitBreaker, blocked_reason
from .ytdlp import NotAsked, SourceError, YtDlpSource


def fetch_audio(video: Video, settings: FetchSettings, cache: Cache, log: logging.Logger,
                cookies_file: str | None = None, proxy: str | None = None,
                breaker: CircuitBreaker | None = None) -> tuple[Path, str]:
    """(path of the audio in the cache, its sha256); raises ytdlp.SourceError when it cannot be had (NotAsked
    while the breaker is open; each request's answer is noted by it)."""
    variant = variant_of(settings, "audio")
    key = media_key(variant, video.archive_id or video.url)
    meta = cache.get(MEDIA, key)
    if meta is None:
        if breaker is not None and breaker.open:
            raise NotAsked("not asked: the source refused the requests before it (circuit breaker)")
        log.info("%s: fetching audio on demand", video.id)
        source = YtDlpSource(settings, "audio", archive_path(cache, variant), log, cookies_file, proxy)
        candidate = Candidate(url=video.url, entry={"_type": "url", "url": video.url, "ie_key": video.extractor},
                              id=video.id, archive_id=video.archive_id)
        try:
            info, archive_id = source.extract(candidate)
            path = source.download(info, cache.staging(MEDIA, key))
        except SourceError as exc:
            if breaker is not None:
                breaker.note(blocked_reason(str(exc)) or "error")  # not a refusal: says nothing either way
            raise
        if breaker is not None:
            breaker.note(None)
        meta = store(cache, key, candidate.with_info(info, archive_id), path)
    return cache.entry_dir(MEDIA, key) / meta["file"], meta["sha256"]


def fetch_again(video: Video, damaged_sha256: str, settings: FetchSettings, cache: Cache, log: logging.Logger,
                cookies_file: str | None = None, proxy: str | None = None,
                breaker: CircuitBreaker | None = None) -> tuple[Path, str]:
    """The video's audio once more, its cached copy with `damaged_sha256` (which does not decode) dropped first, so
    the source is asked again; a copy fetched since, already in the cache, is used as it is."""
    if drop_damaged(cache, settings, video.archive_id or video.url, damaged_sha256):
        log.info("%s: its media does not decode; dropped from the cache, fetching it again", video.id)
    return fetch_audio(video, settings, cache, log, cookies_file, proxy, breaker)
