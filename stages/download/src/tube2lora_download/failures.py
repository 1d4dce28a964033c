"""yt-dlp's error messages, turned into typed reasons with a hint (pure, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tube2lora_media.politeness import BOT_CHECK, RATE_LIMIT


@dataclass(frozen=True)
class Failure:
    reason: str
    retryable: bool  # worth trying again on the next run
    hint: str
    skip: bool = False  # not an error: the video is not (yet) a video to download


_RULES: list[tuple[str, Failure]] = [
    (BOT_CHECK,
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
    (RATE_LIMIT,
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
     # with a JavaScript runtime installed (deno + yt-dlp-ejs), YouTube's missing formats are mostly a challenge
     # this yt-dlp could not solve yet (YouTube changed its player): worth asking again, not a property of the video
     Failure("no_format", True, "no format matches download.audio_format / video_format; on YouTube usually an "
             "unsolved JavaScript challenge: the next run asks again, and if it persists update yt-dlp and "
             "yt-dlp-ejs (uv lock --upgrade-package yt-dlp --upgrade-package yt-dlp-ejs)")),
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
