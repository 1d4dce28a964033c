"""The download stage's orchestration: list sources, filter, reuse the cache, fetch what is new.

Reads the `input` section (URLs and the URL file, cookies and proxy), writes `stages/download/videos.jsonl`
(every listed video with its status), `listing.json` (what the sources listed, and when), `metrics.jsonl`,
`fetch_settings.json` (how media was fetched) and the media under `artifacts/download/`, hard-linked from the
cross-run cache. A finished stage whose listing is old (download.relist_after_hours) lists again and keeps what it
published when the listing is the same (listing.py). Cache namespaces:
    download/media     one entry per (media variant, video): the file and its metadata
    download/failures  permanent failures (private, removed...), not re-asked for a while
    download/urls      single-video URLs already resolved to an id, so a re-run makes no request
    download/archives  yt-dlp's download archive, one per media variant
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from tube2lora_shared.cache import Cache
from tube2lora_shared.errors import StageError, UsageError
from tube2lora_shared.files import link_or_copy
from tube2lora_shared.jsonl import write_jsonl
from tube2lora_shared.languages import first_allowed
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.records import CaptionLanguages, Video

from tube2lora_media.candidate import Candidate
from tube2lora_media.jsruntime import NO_RUNTIME_HINT
from tube2lora_media.mediacache import MEDIA, archive_path, cached_candidate, media_key, store, variant_of
from tube2lora_media.politeness import CircuitBreaker, blocked_reason
from tube2lora_media.probe import media_seconds
from tube2lora_media.ytdlp import ListingError, SourceError, VideoSource, YtDlpSource

from .config import DownloadConfig
from .failures import classify, short_error
from .listing import ListingRecord, show_time
from .selection import iso_day, skip_reason

FAILURES, URLS = "download/failures", "download/urls"


def run(ctx: StageContext) -> None:
    cfg: DownloadConfig = ctx.section
    urls = ctx.config.input.source_urls()
    if not urls:
        raise UsageError("input: no sources; set input.urls or input.url_file")
    settings = cfg.fetch_settings()
    variant = variant_of(settings, cfg.media_kind())
    source = YtDlpSource(settings, cfg.media_kind(), archive_path(ctx.cache, variant), ctx.log,
                         ctx.config.input.cookies_file(), ctx.config.input.proxy())
    runtime = source.js_runtime.describe() if source.js_runtime else None
    if runtime:
        ctx.log.info("YouTube's JavaScript challenges are solved with %s", runtime)
    else:
        ctx.log.warning("%s", NO_RUNTIME_HINT)
    Downloader(ctx, source, variant).run(urls)
    # on-demand audio and captions (transcribe) fetch the same way
    settings.model_copy(update={"js_runtime": runtime}).write(ctx.out_dir)


class Downloader:
    def __init__(self, ctx: StageContext, source: VideoSource, variant: str):
        self.ctx, self.source, self.variant = ctx, source, variant
        self.cfg: DownloadConfig = ctx.section
        self.cache = ctx.cache
        self.breaker = CircuitBreaker(self.cfg.breaker_after)

    def run(self, urls: list[str]) -> None:
        candidates, listing = self.discover(urls)
        if self.ctx.refresh and self._nothing_new(listing):
            return
        if not candidates and len(listing.failed()) == len(urls):
            refused = [classify(s.error) for s in listing.failed() if blocked_reason(s.error or "")]
            if refused:  # the source said no, not the URLs or the network
                raise StageError(f"the source refused to list {len(refused)} of {len(urls)} source(s) in input "
                                 f"({refused[0].reason}): {refused[0].hint}; nothing was fetched, re-run in a few "
                                 "hours (details in logs/pipeline.log)")
            raise StageError(f"no videos could be listed from {len(urls)} source(s) in input; check the URLs "
                             "and the network (details in logs/pipeline.log)")
        videos, kept = [], 0
        for candidate in self.ctx.track(candidates, "videos", total=len(candidates)):
            if self.cfg.max_videos and kept >= self.cfg.max_videos:
                reason = skip_reason(candidate, self.cfg) or "max_videos"
                videos.append(self.finish(candidate, "skipped", reason=reason))
                continue
            started = time.monotonic()
            video = self.unasked(candidate) if self.breaker.open else self.fetch(candidate)
            kept += video.status in ("success", "cached")
            videos.append(video)
            self.ctx.metric(id=video.id, status=video.status, reason=video.reason, bytes=video.media_bytes,
                            duration=video.duration, seconds=round(time.monotonic() - started, 3))
        write_jsonl(self.ctx.out_dir / "videos.jsonl", videos)
        listing.write(self.ctx.out_dir)
        if self.breaker.open:  # finished media and metadata are in the cache; the next run asks for the rest
            left = sum(v.reason == "not_attempted" for v in videos)
            source = self.ctx.config.input
            raise StageError(self.breaker.message("download", "video(s)", left, kept, bool(source.cookies_env),
                                                  bool(source.proxy_env)))

    # --- discovery -----------------------------------------------------------------------------
    def discover(self, urls: list[str]) -> tuple[list[Candidate], ListingRecord]:
        """Every source listed flat, deduplicated by video, and what each listed; a bad source or entry is
        recorded, not fatal."""
        found: dict[str, Candidate] = {}
        sources: list[tuple[str, list[str], bool, str | None]] = []
        for url in urls:
            listed = self._cached_url(url)
            items = [listed] if listed else list(self.source.list(url))
            single = [i for i in items if isinstance(i, Candidate)]
            is_single = bool(listed) or (len(items) == 1 and bool(single) and single[0].extracted
                                         and bool(single[0].archive_id))
            if not listed and is_single:
                self._remember_url(url, single[0])  # a single-video URL: no request for it next time
            ids, error = [], None
            for item in items:
                if isinstance(item, ListingError):
                    failure = classify(item.message)
                    where = item.url if item.entry is None else f"{item.url} entry {item.entry}"
                    self.ctx.record(f"listing:{where}", "failed", failure.reason, short_error(item.message),
                                    retryable=failure.retryable)
                    self.ctx.log.warning("could not list %s: %s (%s)", where, short_error(item.message),
                                         failure.hint)
                    if item.entry is None:  # the source, or one of its tabs: the listing is incomplete
                        error = error or short_error(item.message)
                    continue
                ids.append(item.archive_id or item.url)
                found.setdefault(item.archive_id or item.url, item)
            sources.append((url, ids, is_single, error))
        self.ctx.log.info("listed %d video(s) from %d source(s)", len(found), len(urls))
        return list(found.values()), ListingRecord.build(sources)

    def _nothing_new(self, listing: ListingRecord) -> bool:
        """A due re-listing of a finished stage: True (and the published output kept) when it lists the same
        videos, or when a source could not be listed (the next run looks again); False when something is new."""
        try:
            published = ListingRecord.find(self.ctx.run.stage_dir("download"))
        except StageError:
            published = None
        failed = listing.failed()
        if failed:
            since = f"the listing of {show_time(published.listed_at)}" if published else "the published videos"
            self.ctx.log.warning("could not list %s again (%s); keeping %s, the next run tries again",
                                 failed[0].url, failed[0].error, since)
            self.ctx.keep_published(f"{len(failed)} source(s) could not be listed again", looked=False)
            return True
        if published is not None and published.digest == listing.digest:
            self.ctx.keep_published(f"listed again: the same {listing.videos} video(s) as "
                                    f"{show_time(published.listed_at)}")
            return True
        before = f"{published.videos} before" if published else "no listing record before"
        self.ctx.log.info("the listing changed: %d video(s) now, %s; fetching what is new", listing.videos, before)
        return False

    def _cached_url(self, url: str) -> Candidate | None:
        meta = self.cache.get(URLS, Cache.key(url))
        if not meta:
            return None
        entry = {"_type": "url", "url": meta["url"], "ie_key": meta["extractor"]}
        return Candidate(url=meta["url"], entry=entry, id=meta["id"], archive_id=meta["archive_id"],
                         extractor=meta["extractor"])

    def _remember_url(self, url: str, c: Candidate) -> None:
        self.cache.put(URLS, Cache.key(url), {"url": c.url, "id": c.id, "archive_id": c.archive_id,
                                              "extractor": c.extractor})

    # --- one video -----------------------------------------------------------------------------
    def settled(self, c: Candidate) -> Video | None:
        """What is known of a video without a request (filtered out, cached, a known permanent failure), or None."""
        reason = skip_reason(c, self.cfg)
        if reason:
            return self.finish(c, "skipped", reason=reason)
        return self._known(c) if c.archive_id else None

    def fetch(self, c: Candidate) -> Video:
        if (settled := self.settled(c)) is not None:
            return settled
        for attempt in range(1, self.cfg.attempts + 1):
            try:
                video = self._fetch_fresh(c)
                self.breaker.note(video.reason)
                return video
            except (SourceError, OSError) as exc:
                failure = classify(str(exc))
                message = short_error(str(exc))
                if failure.skip:
                    self.breaker.note(failure.reason)
                    return self.finish(c, "skipped", reason=failure.reason)
                if failure.retryable and attempt < self.cfg.attempts:
                    pause = self.cfg.backoff_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
                    self.ctx.log.info("%s: %s, retrying in %.1f s", c.safe_id, failure.reason, pause)
                    time.sleep(pause)
                    continue
                self.breaker.note(failure.reason)  # the video's outcome, after its attempts
                self.ctx.log.warning("%s: %s: %s (%s)", c.safe_id, failure.reason, message, failure.hint)
                self.ctx.log.debug("%s: full error: %s", c.safe_id, exc)
                if not failure.retryable and c.archive_id:
                    self.cache.put(FAILURES, Cache.key(c.archive_id),
                                   {"reason": failure.reason, "error": message, "at": time.time()})
                return self.finish(c, "failed", reason=failure.reason, error=message,
                                   retryable=failure.retryable)
        raise AssertionError("unreachable")

    def unasked(self, c: Candidate) -> Video:
        """A video met after the circuit breaker opened: what is known without a request, else not attempted."""
        if (settled := self.settled(c)) is not None:
            return settled
        return self.finish(c, "failed", reason="not_attempted", retryable=True,
                           error="not asked: the source refused the requests before it (circuit breaker)")

    def _known(self, c: Candidate) -> Video | None:
        """A video this cache already has, or a permanent failure not yet due for a re-check."""
        for with_media in (True, False):
            meta = self.cache.get(MEDIA, self._media_key(c.archive_id, with_media))
            if meta:
                cached = cached_candidate(meta)
                if with_media or not self._wants_media(cached):
                    return self._with_media(cached, meta, "cached")
        failed = self.cache.get(FAILURES, Cache.key(c.archive_id))
        due = failed and time.time() - failed["at"] > self.cfg.recheck_failed_after_hours * 3600
        if failed and not due and not self.ctx.retry_failed:
            return self.finish(c, "failed", reason=failed["reason"],
                               error=f"{failed['error']} (known from an earlier run; --retry-failed re-checks)")
        return None

    def _wants_media(self, c: Candidate) -> bool:
        if self.cfg.media == "auto":
            captions = list(c.manual_captions) + (list(c.auto_captions) if self.cfg.auto_captions_ok else [])
            return first_allowed(captions, self.ctx.config.input.languages) is None
        return self.cfg.media != "none"

    def _fetch_fresh(self, c: Candidate) -> Video:
        if c.extracted:
            info, archive_id = c.entry, c.archive_id
        else:
            info, archive_id = self.source.extract(c)
        c = c.with_info(info, archive_id)
        if not c.archive_id:
            raise SourceError(f"yt-dlp gave no id for {c.url}")
        reason = skip_reason(c, self.cfg)
        if reason:
            return self.finish(c, "skipped", reason=reason)
        if (known := self._known(c)) is not None:  # reached through another URL before
            return known
        with_media = self._wants_media(c)
        key = self._media_key(c.archive_id, with_media)
        path = None
        if with_media:
            path = self.source.download(info, self.cache.staging(MEDIA, key))
            if c.duration is None:
                c = replace(c, duration=media_seconds(path))
        return self._with_media(c, store(self.cache, key, c, path), "success")

    def _media_key(self, archive_id: str, with_media: bool = True) -> str:
        return media_key(self.variant, archive_id, with_media)

    def _with_media(self, c: Candidate, meta: dict, status: str) -> Video:
        reason = skip_reason(c, self.cfg)  # a duration known only after download can make a short
        if reason:
            return self.finish(c, "skipped", reason=reason)
        if "file" not in meta or self.cfg.media == "none":
            return self.finish(c, status)
        source = self.cache.entry_dir(MEDIA, self._media_key(c.archive_id)) / meta["file"]
        target, relative = self.ctx.artifact(f"{c.safe_id}{source.suffix}")
        link_or_copy(source, target)
        return self.finish(c, status, media_path=relative, media_bytes=meta["bytes"],
                           media_sha256=meta["sha256"])

    def finish(self, c: Candidate, status: str, reason: str | None = None, error: str | None = None,
               retryable: bool = False, **media: Any) -> Video:
        self.ctx.record(c.safe_id, status, reason, error, retryable)
        return Video(
            id=c.safe_id, title=c.title, description=c.description, url=c.url, duration=c.duration,
            channel=c.channel, channel_id=c.channel_id, upload_date=iso_day(c.upload_date),
            extractor=c.extractor, archive_id=c.archive_id, status=status, reason=reason, error=error,
            caption_languages=CaptionLanguages(manual=list(c.manual_captions), auto=list(c.auto_captions)),
            **media,
        )
