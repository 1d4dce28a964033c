"""The `download` config section."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import Field, field_validator, model_validator

from tube2lora_shared.config import Section
from tube2lora_shared.documents import FetchSettings


class DownloadConfig(Section):
    # none: metadata only; auto: audio, except for videos with acceptable captions (input.languages)
    media: Literal["audio", "video", "none", "auto"] = "audio"
    auto_captions_ok: bool = False  # with media: auto, YouTube's automatic captions are acceptable too
    audio_format: str = "bestaudio/best"  # yt-dlp format selectors; audio is kept as downloaded
    video_format: str = "bestvideo*+bestaudio/best"
    include_shorts: bool = False  # /shorts/ URLs and videos of at most shorts_max_seconds
    shorts_max_seconds: float = Field(60.0, ge=0)
    include_live: bool = False  # live, upcoming and post-live streams
    max_videos: int | None = Field(None, ge=1)
    date_after: date | None = None  # upload-date window, inclusive
    date_before: date | None = None
    title_include: str | None = None  # regular expressions, case-insensitive
    title_exclude: str | None = None
    sleep_interval_s: float = Field(0.0, ge=0)  # random sleep before each download...
    max_sleep_interval_s: float | None = Field(None, ge=0)  # ...up to this many seconds
    sleep_requests_s: float = Field(0.0, ge=0)  # sleep between metadata requests
    rate_limit_bytes: int | None = Field(None, ge=1024)  # bytes per second
    retries: int = Field(3, ge=0)  # yt-dlp's own HTTP / fragment retries
    attempts: int = Field(2, ge=1)  # tries per video for retryable failures (network, 429, bot check)
    backoff_s: float = Field(5.0, ge=0)  # base of the exponential backoff between attempts, jittered
    # circuit breaker: after this many videos in a row refused (bot check, rate limit), stop asking and fail
    # (0: never); transcribe's caption requests follow it too (fetch_settings.json)
    breaker_after: int = Field(3, ge=0)
    socket_timeout_s: float = Field(30.0, gt=0)
    recheck_failed_after_hours: float = Field(24.0, ge=0)  # permanent failures are not re-asked sooner
    # a finished listing older than this is listed again by the next run (Make too): new uploads come in, and an
    # identical listing changes nothing; 0: every run; null: only with --force (FORCE=1). Not part of the run id
    relist_after_hours: float | None = Field(24.0, ge=0)
    # cookies and proxy are source access for every stage that reaches the source: input.cookies_env, input.proxy_env

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data):
        moved = [key for key in ("cookies_env", "proxy_env") if isinstance(data, dict) and key in data]
        if moved:
            raise ValueError(f"{moved[0]} moved to the input section (input.{moved[0]}): transcribe reaches "
                             "the source too")
        return data

    @field_validator("title_include", "title_exclude")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from None
        return value

    @model_validator(mode="after")
    def _window(self) -> "DownloadConfig":
        if self.date_after and self.date_before and self.date_after > self.date_before:
            raise ValueError("date_after is later than date_before")
        if self.max_sleep_interval_s is not None and self.max_sleep_interval_s < self.sleep_interval_s:
            raise ValueError("max_sleep_interval_s is smaller than sleep_interval_s")
        return self

    def media_kind(self) -> Literal["audio", "video"]:
        """The media variant downloaded: none and auto share audio's, so switching modes never
        downloads twice."""
        return "video" if self.media == "video" else "audio"

    def fetch_settings(self) -> FetchSettings:
        """How yt-dlp is asked for media; published with the videos for on-demand audio."""
        return FetchSettings(audio_format=self.audio_format, video_format=self.video_format, retries=self.retries,
                             socket_timeout_s=self.socket_timeout_s, sleep_requests_s=self.sleep_requests_s,
                             sleep_interval_s=self.sleep_interval_s, max_sleep_interval_s=self.max_sleep_interval_s,
                             rate_limit_bytes=self.rate_limit_bytes, breaker_after=self.breaker_after)
