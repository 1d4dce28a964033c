"""Asking a video source politely, for every stage that asks it (download's media, transcribe's captions and
audio on demand): random pauses between videos, and a circuit breaker that stops asking once the source has
refused several requests in a row as a bot check or a rate limit (asking on keeps the address flagged)."""

from __future__ import annotations

import random
import re
import time

# yt-dlp's words for a refusal (YouTube's "Sign in to confirm you're not a bot" or captcha, its "This content isn't
# available, try again later" session limit, any server's HTTP 429); the download stage's classifier uses them too
BOT_CHECK = r"not a bot|requiring a captcha"
RATE_LIMIT = r"http error 429|too many requests|rate-limited by youtube|content isn.t available, try again later"
BLOCKED_REASONS = {"bot_check": "a bot check (\"sign in to confirm you're not a bot\")",
                   "rate_limited": "a rate limit (HTTP 429, too many requests)",
                   "captions_blocked": "a block of caption requests (YouTube's IpBlocked / RequestBlocked)"}
# failures that are no answer from the source (the network, an unknown error, our own media handling): they
# neither lengthen nor end a streak of refusals
NEUTRAL = {"network", "error", "media_error"}
_BLOCKED = [(re.compile(BOT_CHECK, re.I), "bot_check"), (re.compile(RATE_LIMIT, re.I), "rate_limited")]


def blocked_reason(message: str) -> str | None:
    """bot_check or rate_limited when yt-dlp's message is a refusal of that kind, else None."""
    return next((reason for pattern, reason in _BLOCKED if pattern.search(message)), None)


def pause(least_s: float, most_s: float | None) -> float:
    """Sleep a random time between least_s and most_s (yt-dlp's sleep_interval / max_sleep_interval)."""
    seconds = random.uniform(least_s, max(most_s or least_s, least_s))
    if seconds > 0:
        time.sleep(seconds)
    return seconds


class CircuitBreaker:
    """Counts consecutive refusals; open once `after` videos in a row were refused (0: never opens).
    A stage notes each video's outcome from the source and stops asking while the breaker is open."""

    def __init__(self, after: int, setting: str = "download.breaker_after"):
        self.after, self.setting = after, setting
        self.streak: list[str] = []  # the reasons of the current run of refusals

    def note(self, reason: str | None) -> None:
        """One video's outcome: a refusal's reason (bot_check, rate_limited, captions_blocked) lengthens the
        streak; a real answer (None for a success, private, not_found...) ends it; a NEUTRAL failure does neither."""
        if reason in BLOCKED_REASONS:
            self.streak.append(reason)
        elif reason not in NEUTRAL and not self.open:
            self.streak.clear()

    @property
    def open(self) -> bool:
        return self.after > 0 and len(self.streak) >= self.after

    def message(self, stage: str, what: str, left: int, kept: int, cookies: bool = False,
                proxy: bool = False) -> str:
        """The stage's one failure message: what happened, what was kept and left, the remedy (fresh cookies or
        another proxy when the recipe has them already), when to retry."""
        kinds = " and ".join(BLOCKED_REASONS[r] for r in dict.fromkeys(self.streak))
        cookies_hint = ("fresh cookies from a signed-in browser (the file input.cookies_env names may have expired)"
                        if cookies else "a signed-in browser's cookies (input.cookies_env)")
        proxy_hint = "another proxy (input.proxy_env)" if proxy else "a proxy (input.proxy_env)"
        return (f"{stage} stopped asking the source after {len(self.streak)} videos in a row were refused "
                f"({kinds}; {self.setting}={self.after}): {left} {what} left unasked, {kept} finished one(s) kept "
                f"in the cache. The source has flagged this address: give it {cookies_hint} or {proxy_hint}, "
                "and/or slow down (download.sleep_interval_s), then re-run in a few hours (a flag usually lifts "
                "within a day); the next run asks only for what is missing")
