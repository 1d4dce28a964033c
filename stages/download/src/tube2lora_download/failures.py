"""yt-dlp's error messages, turned into typed reasons with a hint (pure, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Failure:
    reason: str
    retryable: bool  # worth trying again on the next run
    hint: str
    skip: bool = False  # not an error: the video is not (yet) a video to download


_RULES: list[tuple[str, Failure]] = [
    (r"not a bot",
     Failure("bot_check", True, "YouTube wants proof you are human: slow down (download.sleep_interval_s) "
             "or pass cookies through input.cookies_env")),
    (r"private video|video is private",
     Failure("private", False, "the video is private; cookies of an account with access can help")),
    (r"members[- ]only|join this channel|available to this channel.s members",
     Failure("members_only", False, "members-only: pass a member account's cookies via input.cookies_env")),
    (r"confirm your age|age[- ]restricted|inappropriate for some users",
     Failure("age_restricted", False, "age-restricted: pass a signed-in account's cookies via input.cookies_env")),
    (r"not available in your country|geo.?restrict|blocked it in your country|not made this video available",
     Failure("geo_blocked", False, "geo-blocked: a proxy in an allowed country (input.proxy_env) can help")),
    (r"live event will begin|premieres in|is upcoming|this live event|is_upcoming",
     Failure("live", False, "an upcoming stream or premiere; it is picked up once it has been published", skip=True)),
    (r"http error 429|too many requests",
     Failure("rate_limited", True, "rate-limited: raise download.sleep_interval_s and retry later")),
    (r"http error 404|http error 410|video unavailable|has been removed|does not exist|no longer available"
     r"|account .* terminated",
     Failure("not_found", False, "the video is gone (removed, deleted or never existed)")),
    (r"unsupported url",
     Failure("unsupported_url", False, "yt-dlp has no extractor for this URL")),
    (r"http error 5\d\d|timed out|connection (refused|reset|aborted)|temporary failure|name or service"
     r"|network is unreachable|unable to download|urlopen error|remote end closed|incompleteread",
     Failure("network", True, "a network error; the next run retries it")),
    (r"requested format is not available|no video formats",
     Failure("no_format", False, "no format matches download.audio_format / video_format")),
    (r"invalid data|ffmpeg|ffprobe|postprocessing",
     Failure("media_error", True, "the media could not be processed; check that ffmpeg is installed")),
]
_COMPILED = [(re.compile(pattern, re.I), failure) for pattern, failure in _RULES]
UNKNOWN = Failure("error", True, "an unexpected yt-dlp error; the full message is in logs/pipeline.log")


def classify(message: str) -> Failure:
    for pattern, failure in _COMPILED:
        if pattern.search(message):
            return failure
    return UNKNOWN


def short_error(message: str, limit: int = 300) -> str:
    """yt-dlp's message without its colour codes and 'ERROR: [extractor] id:' prefix, on one line."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", message)
    text = re.sub(r"^(ERROR:\s*)?(\[[^\]]+\]\s*)?", "", text.strip())
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
