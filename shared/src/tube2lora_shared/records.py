"""Interchange records: what stages hand each other, so a consumer never imports a producer."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .manifest import Status


class CaptionLanguages(BaseModel):
    manual: list[str] = Field(default_factory=list)
    auto: list[str] = Field(default_factory=list)


class Video(BaseModel):
    """One video the download stage saw, with what became of it (`videos.jsonl`)."""

    id: str  # file-name safe
    title: str | None = None
    description: str | None = None
    url: str
    duration: float | None = None  # seconds
    channel: str | None = None
    channel_id: str | None = None
    upload_date: str | None = None  # YYYY-MM-DD
    extractor: str | None = None
    status: Status
    reason: str | None = None
    error: str | None = None
    media_path: str | None = None  # relative to the run directory
    media_bytes: int | None = None
    media_sha256: str | None = None
    caption_languages: CaptionLanguages = Field(default_factory=CaptionLanguages)

    @property
    def has_media(self) -> bool:
        return self.media_path is not None and self.status in ("success", "cached")
