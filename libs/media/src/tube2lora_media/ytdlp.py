"""yt-dlp behind the `VideoSource` protocol: list sources flat, extract one video, download it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import yt_dlp
from yt_dlp.utils import make_archive_id, unsmuggle_url

from tube2lora_shared.documents import FetchSettings

from .candidate import Candidate, upload_day
from .jsruntime import js_runtime
from .mediacache import Media, media_variant

NESTED_URL = re.compile(r"/(videos|shorts|streams|live|playlists|podcasts|releases)/?$|[?&]list=")


class SourceError(Exception):
    """yt-dlp could not list, extract or download; the message is yt-dlp's."""


class NotAsked(SourceError):
    """The source was not asked: a circuit breaker is open after it refused the requests before."""


@dataclass(frozen=True)
class ListingError:
    url: str  # the source, tab or playlist being listed
    message: str
    entry: int | None = None  # the broken entry's position, when the listing itself worked


class VideoSource(Protocol):
    def list(self, url: str) -> Iterator[Candidate | ListingError]: ...

    def extract(self, candidate: Candidate) -> tuple[dict[str, Any], str | None]: ...

    def download(self, info: dict[str, Any], dest: Path) -> Path: ...


class _Logger:
    """yt-dlp's logger interface, routed into tube2lora's logging; remembers the last error."""

    def __init__(self, log: logging.Logger):
        self.log = log
        self.last_error: str | None = None

    def debug(self, msg: str) -> None:
        self.log.debug(msg.removeprefix("[debug] "))

    def info(self, msg: str) -> None:
        self.log.debug(msg)

    def warning(self, msg: str) -> None:
        # the generic extractor announces itself on every non-YouTube URL: not worth a warning
        self.log.debug(msg) if "Falling back on generic" in msg else self.log.warning(msg)

    def error(self, msg: str) -> None:
        self.last_error = msg
        self.log.debug(msg)


class YtDlpSource:
    def __init__(self, settings: FetchSettings, media: Media, archive: Path, log: logging.Logger,
                 cookies_file: str | None = None, proxy: str | None = None):
        self.settings = settings
        self.format = media_variant(settings, media)["format"]
        self.archive = archive
        self.logger = _Logger(logging.getLogger("yt_dlp"))
        self.cookies_file = cookies_file
        self.proxy = proxy
        self.js_runtime = js_runtime()  # None: yt-dlp looks for deno on PATH itself, YouTube may offer no formats
        self._ydl: yt_dlp.YoutubeDL | None = None
        self._generic_prefixes: set[tuple[str, str, str]] = set()

    def _params(self, **extra: Any) -> dict[str, Any]:
        cfg = self.settings
        params: dict[str, Any] = {
            "logger": self.logger,
            "quiet": True,
            "noprogress": True,
            "retries": cfg.retries,
            "fragment_retries": cfg.retries,
            "extractor_retries": cfg.retries,
            "socket_timeout": cfg.socket_timeout_s,
            "sleep_interval_requests": cfg.sleep_requests_s or None,
            "cachedir": False,
        }
        if self.js_runtime:
            params["js_runtimes"] = self.js_runtime.params()
        if self.cookies_file:
            params["cookiefile"] = self.cookies_file
        if self.proxy:
            params["proxy"] = self.proxy
        params.update(extra)
        return params

    @property
    def ydl(self) -> yt_dlp.YoutubeDL:
        """The extracting/downloading instance, built once; it keeps the download archive in memory."""
        if self._ydl is None:
            cfg = self.settings
            self.archive.parent.mkdir(parents=True, exist_ok=True)
            self._ydl = self._youtube_dl(self._params(
                format=self.format or "best",
                download_archive=str(self.archive),
                continuedl=True,
                overwrites=False,
                ratelimit=cfg.rate_limit_bytes,
                sleep_interval=cfg.sleep_interval_s or None,
                max_sleep_interval=cfg.max_sleep_interval_s,
                outtmpl={"default": "media.%(ext)s"},
            ))
        return self._ydl

    def _youtube_dl(self, params: dict[str, Any]) -> yt_dlp.YoutubeDL:
        """A yt-dlp instance with these parameters and yt-dlp's own extractors (one place to make them)."""
        return yt_dlp.YoutubeDL(params)

    # --- listing -------------------------------------------------------------------------------
    def list(self, url: str) -> Iterator[Candidate | ListingError]:
        with self._youtube_dl(self._params(extract_flat="in_playlist", ignoreerrors=True)) as lister:
            yield from self._walk(lister, url, depth=0, shorts=False, streams=False)

    def _walk(self, lister: yt_dlp.YoutubeDL, url: str, depth: int, shorts: bool,
              streams: bool) -> Iterator[Candidate | ListingError]:
        self.logger.last_error = None
        try:
            info = lister.extract_info(url, download=False)
        except yt_dlp.utils.DownloadError as exc:
            yield ListingError(url, str(exc))
            return
        if info is None:
            yield ListingError(url, self.logger.last_error or "yt-dlp returned nothing")
            return
        yield from self._entries(lister, url, info, depth, shorts, streams)

    def _entries(self, lister: yt_dlp.YoutubeDL, url: str, info: dict[str, Any], depth: int, shorts: bool,
                 streams: bool) -> Iterator[Candidate | ListingError]:
        if info.get("_type") not in ("playlist", "multi_video"):
            yield self._candidate(lister, info, {}, shorts, streams, extracted=True)
            return
        context = {"channel": info.get("channel") or info.get("uploader") or info.get("title"),
                   "channel_id": info.get("channel_id") or info.get("uploader_id")}
        for position, entry in enumerate(info.get("entries") or []):
            if entry is None:  # a broken entry: yt-dlp logged it and went on
                yield ListingError(url, self.logger.last_error or "a playlist entry could not be read", position)
                continue
            entry_url = entry.get("url") or entry.get("webpage_url") or ""
            if depth < 3 and self._is_nested(entry):
                tab = entry_url.rstrip("/").rsplit("/", 1)[-1]
                shorts_, streams_ = shorts or tab == "shorts", streams or tab in ("streams", "live")
                if entry.get("_type") == "playlist" and "entries" in entry:  # a channel's tabs come listed already
                    yield from self._entries(lister, entry_url, entry, depth + 1, shorts_, streams_)
                else:
                    yield from self._walk(lister, entry_url, depth + 1, shorts_, streams_)
            else:
                yield self._candidate(lister, entry, context, shorts, streams, extracted=False)

    @staticmethod
    def _is_nested(entry: dict[str, Any]) -> bool:
        ie_key = entry.get("ie_key") or ""
        return (entry.get("_type") == "playlist" or ie_key.endswith("Tab") or "Playlist" in ie_key
                or bool(NESTED_URL.search(entry.get("url") or "")))

    def _extractor_for(self, lister: yt_dlp.YoutubeDL, entry: dict[str, Any]) -> str:
        """The entry's extractor key, as yt-dlp's archive uses it. Entries without one (a feed's items)
        need a scan of every extractor's URL pattern, which is slow (~1900 regexes that do not fit
        Python's regex cache); a URL prefix that only the generic extractor took is remembered."""
        known = entry.get("extractor_key") or entry.get("ie_key")
        if known:
            return known
        url = entry.get("url") or ""
        parts = urlsplit(url)
        prefix = (parts.scheme, parts.netloc, parts.path.rsplit("/", 1)[0])
        if prefix in self._generic_prefixes:
            return "Generic"
        found = next((key for key, ie in lister._ies.items() if ie.suitable(url)), "Generic")
        if found == "Generic":
            self._generic_prefixes.add(prefix)
        return found

    def _candidate(self, lister: yt_dlp.YoutubeDL, entry: dict[str, Any], context: dict[str, Any],
                   shorts: bool, streams: bool, extracted: bool) -> Candidate:
        url = entry.get("url") or entry.get("webpage_url") or ""
        plain_url, smuggled = unsmuggle_url(url, {})
        video_id = smuggled.get("force_videoid") or entry.get("id")
        archive_id = make_archive_id(self._extractor_for(lister, entry), video_id) if video_id else None
        webpage = entry.get("webpage_url") or url
        candidate = Candidate(
            url=webpage if extracted else plain_url,
            entry=entry,
            id=video_id,
            archive_id=archive_id,
            title=entry.get("title"),
            description=entry.get("description"),
            duration=entry.get("duration"),
            upload_date=upload_day(entry),
            live_status=entry.get("live_status") or ("was_live" if streams else None),
            is_short=shorts or "/shorts/" in url,
            extractor=entry.get("extractor_key") or entry.get("ie_key"),
            channel=entry.get("channel") or entry.get("uploader") or context.get("channel"),
            channel_id=entry.get("channel_id") or context.get("channel_id"),
        )
        return candidate.with_info(entry, archive_id) if extracted else candidate

    # --- one video -----------------------------------------------------------------------------
    def extract(self, candidate: Candidate) -> tuple[dict[str, Any], str | None]:
        """Full metadata (one request), without downloading; plus yt-dlp's archive id for it."""
        self.logger.last_error = None
        try:
            info = self.ydl.process_ie_result(dict(candidate.entry), download=False)
        except yt_dlp.utils.DownloadError as exc:
            raise SourceError(str(exc)) from None
        if not info:
            raise SourceError(self.logger.last_error or "yt-dlp returned no metadata")
        return info, self.ydl._make_archive_id(info)

    def download(self, info: dict[str, Any], dest: Path) -> Path:
        """Download into dest (resuming a `.part` left by a killed run); return the media file."""
        self.ydl.params["paths"] = {"home": str(dest), "temp": str(dest)}
        archive_id = self.ydl._make_archive_id(info)
        if archive_id in self.ydl.archive:  # recorded earlier but the cached file is gone
            self.ydl.archive.discard(archive_id)
        self.logger.last_error = None
        try:
            result = self.ydl.process_ie_result(dict(info), download=True)
        except yt_dlp.utils.DownloadError as exc:
            raise SourceError(str(exc)) from None
        for done in (result or {}).get("requested_downloads") or []:
            path = Path(done.get("filepath") or "")
            if path.is_file():
                return path
        raise SourceError(self.logger.last_error or "yt-dlp finished without writing a media file")
