"""YouTube's own captions through youtube-transcript-api (1.x instance API)."""

from __future__ import annotations

import time
from importlib import metadata
from typing import Any

import requests
from youtube_transcript_api import (
    AgeRestricted,
    IpBlocked,
    NoTranscriptFound,
    PoTokenRequired,
    RequestBlocked,
    TranscriptsDisabled,
    VideoUnavailable,
    VideoUnplayable,
    YouTubeRequestFailed,
    YouTubeTranscriptApi,
)
from youtube_transcript_api.proxies import GenericProxyConfig

from tube2lora_media.politeness import pause
from tube2lora_shared.documents import FetchSettings
from tube2lora_shared.languages import first_allowed
from tube2lora_shared.records import Segment
from tube2lora_shared.segmentation import collapse_space

from .config import CaptionsConfig
from .outcome import RawTranscript, Unusable

MODEL = "youtube-transcript-api"


def new_session() -> requests.Session:
    """The HTTP client the API uses (tests mount a fake YouTube on it)."""
    return requests.Session()


class YouTubeCaptions:
    """Paced like the download stage's media requests (its fetch settings): a random pause of
    sleep_interval_s..max_sleep_interval_s before each video, sleep_requests_s after each HTTP request."""

    def __init__(self, cfg: CaptionsConfig, languages: list[str], proxy: str | None = None,
                 pacing: FetchSettings | None = None):
        self.cfg = cfg
        self.languages = languages
        self.proxy = proxy
        self.pacing = pacing

    def settings(self) -> dict[str, Any]:
        return {"languages": self.languages, "allow_auto": self.cfg.allow_auto,
                "library": f"{MODEL} {metadata.version('youtube-transcript-api')}"}

    def transcribe(self, video_id: str) -> RawTranscript:
        session = self._session()  # after the pause before this video
        started = time.monotonic()
        proxy = GenericProxyConfig(http_url=self.proxy, https_url=self.proxy) if self.proxy else None
        api = YouTubeTranscriptApi(proxy_config=proxy, http_client=session)
        try:
            listing = list(api.list(video_id))
            manual = {t.language_code: t for t in listing if not t.is_generated}
            auto = {t.language_code: t for t in listing if t.is_generated}
            chosen = self._choose(manual, auto)
            fetched = chosen.fetch()
        except TranscriptsDisabled:
            raise Unusable("captions_disabled", "the creator disabled captions on this video") from None
        except NoTranscriptFound:
            raise Unusable("no_captions", "no captions in an allowed language") from None
        except (IpBlocked, RequestBlocked, PoTokenRequired):  # HTTP 429 and "not a bot" included
            raise Unusable("captions_blocked", "YouTube blocks caption requests from this IP; a proxy "
                           "(input.proxy_env) helps", status="failed", retryable=True) from None
        except AgeRestricted:
            raise Unusable("age_restricted", "captions of an age-restricted video need a signed-in session") from None
        except (VideoUnavailable, VideoUnplayable) as exc:
            raise Unusable("video_unavailable", str(exc).strip().splitlines()[0]) from None
        except (YouTubeRequestFailed, requests.RequestException) as exc:
            raise Unusable("network", f"caption request failed: {type(exc).__name__}", status="failed",
                           retryable=True) from None
        segments = [Segment(start=round(s.start, 3), end=round(s.start + s.duration, 3), text=collapse_space(s.text))
                    for s in fetched.snippets]
        duration = segments[-1].end if segments else None
        return RawTranscript(source="youtube_auto" if chosen.is_generated else "youtube_manual",
                             language=chosen.language_code, segments=segments, model=MODEL,
                             settings=self.settings(), duration=duration,
                             seconds=round(time.monotonic() - started, 3))

    def _session(self) -> requests.Session:
        session = new_session()
        if self.pacing:
            pause(self.pacing.sleep_interval_s, self.pacing.max_sleep_interval_s)
            if self.pacing.sleep_requests_s:
                session.hooks["response"].append(self._after_request)
        return session

    def _after_request(self, response: requests.Response, *args, **kwargs) -> None:
        pause(self.pacing.sleep_requests_s, None)

    def _choose(self, manual: dict, auto: dict):
        """Creator-made captions first; automatic ones only when allowed; languages by prefix."""
        code = first_allowed(manual, self.languages)
        if code:
            return manual[code]
        code = first_allowed(auto, self.languages)
        if code and self.cfg.allow_auto:
            return auto[code]
        if code:
            raise Unusable("auto_captions_only", f"only automatic captions ({code}); "
                           "transcribe.captions.allow_auto is false")
        if manual or auto:
            raise Unusable("language_not_allowed", f"captions only in {sorted({*manual, *auto})}, "
                           f"not in input.languages {self.languages}")
        raise Unusable("no_captions", "the video has no captions")
