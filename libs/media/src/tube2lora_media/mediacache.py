"""The media cache shared by every run and every stage that fetches media (download, on-demand audio).

    download/media/<key>/      media.<ext> + entry.json (url, sha256, bytes, the video's metadata)
    download/archives/<v>.txt  yt-dlp's download archive for media variant v
Keys: (media or metadata, media variant, yt-dlp archive id).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

from tube2lora_shared.cache import Cache
from tube2lora_shared.documents import FetchSettings
from tube2lora_shared.hashing import sha256_file

from .candidate import Candidate

MEDIA = "download/media"
Media = Literal["audio", "video"]


def media_variant(settings: FetchSettings, media: Media) -> dict:
    """What decides a video's media file: the kind and yt-dlp's format selector for it."""
    return {"media": media, "format": settings.video_format if media == "video" else settings.audio_format}


def variant_of(settings: FetchSettings, media: Media) -> str:
    """The media variant's key: the cache and yt-dlp's download archive are per variant."""
    return Cache.key("variant", media_variant(settings, media))[:16]


def archive_path(cache: Cache, variant: str) -> Path:
    return cache.root / "download" / "archives" / f"{variant}.txt"


def media_key(variant: str, archive_id: str, with_media: bool = True) -> str:
    return Cache.key("media" if with_media else "metadata", variant, archive_id)


def store(cache: Cache, key: str, c: Candidate, media: Path | None) -> dict[str, Any]:
    """Publish a video's entry: its metadata and, when given, its media file (hashed once, here)."""
    fields = {k: v for k, v in c.__dict__.items() if k not in ("entry", "url")}
    meta: dict[str, Any] = {"url": c.url, "candidate": fields}
    files = {}
    if media is not None:
        name = f"media{media.suffix}"
        meta.update(file=name, sha256=sha256_file(media), bytes=media.stat().st_size)
        files[name] = media
    cache.put(MEDIA, key, meta, files)
    shutil.rmtree(cache.root / ".staging" / MEDIA / key, ignore_errors=True)
    return meta


def cached_candidate(meta: dict[str, Any]) -> Candidate:
    return Candidate(url=meta["url"], entry={}, **meta["candidate"])


def drop_damaged(cache: Cache, settings: FetchSettings, archive_id: str, sha256: str) -> bool:
    """Forget a cached media file found damaged (it does not decode), so the next fetch asks the source again.
    Only an entry holding exactly those bytes is dropped (a copy fetched since stays); True when one was.
    A run directory's hard link to the file keeps what that run published."""
    for media in ("audio", "video"):
        key = media_key(variant_of(settings, media), archive_id)
        meta = cache.get(MEDIA, key)
        if meta and meta.get("sha256") == sha256:
            cache.drop(MEDIA, key)
            return True
    return False
