"""Pure parts of the download stage: error classification, ids, filters."""

from datetime import date

import pytest

from tube2lora_download.config import DownloadConfig
from tube2lora_download.failures import classify, short_error
from tube2lora_download.selection import skip_reason
from tube2lora_media.candidate import Candidate, safe_id


@pytest.mark.parametrize("message, reason, retryable", [
    ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access", "private", False),
    ("ERROR: [youtube] abc: Sign in to confirm you’re not a bot. Use --cookies", "bot_check", True),
    ("ERROR: [youtube] abc: Join this channel to get access to members-only content", "members_only", False),
    ("ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate for some users.",
     "age_restricted", False),
    ("ERROR: [youtube] abc: The uploader has not made this video available in your country", "geo_blocked", False),
    ("ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader", "not_found", False),
    ("ERROR: [generic] x: Unable to download webpage: HTTP Error 404: File not found", "not_found", False),
    ("ERROR: [youtube] abc: HTTP Error 429: Too Many Requests", "rate_limited", True),
    ("ERROR: [generic] x: Unable to download webpage: <urlopen error [Errno 111] Connection refused>",
     "network", True),
    ("ERROR: [youtube] abc: This live event will begin in 3 hours.", "live", False),
    ("ERROR: Unsupported URL: https://example.com/", "unsupported_url", False),
    ("something nobody has seen before", "error", True),
])
def test_known_failures_get_typed_reasons(message, reason, retryable):
    failure = classify(message)
    assert (failure.reason, failure.retryable) == (reason, retryable)
    assert failure.hint


def test_short_error_drops_prefixes_and_colour():
    assert short_error("\x1b[0;31mERROR:\x1b[0m [youtube] abc: Private video") == "abc: Private video"


def test_safe_ids():
    assert safe_id("dQw4w9WgXcQ") == "dQw4w9WgXcQ"
    odd = safe_id("https://feeds.example/ep/1?x=../../etc")
    assert "/" not in odd and ".." not in odd and odd != safe_id("https://feeds.example/ep/2?x=../../etc")


def cand(**kw):
    return Candidate(url="https://www.youtube.com/watch?v=x", entry={}, **kw)


def test_filters():
    cfg = DownloadConfig()
    assert skip_reason(cand(duration=45), cfg) == "short"
    assert skip_reason(cand(duration=61), cfg) is None
    assert skip_reason(cand(is_short=True), cfg) == "short"
    assert skip_reason(cand(is_short=True), DownloadConfig(include_shorts=True)) is None
    assert skip_reason(cand(live_status="is_upcoming"), cfg) == "live"
    assert skip_reason(cand(live_status="was_live"), DownloadConfig(include_live=True)) is None
    regex = DownloadConfig(title_include="chain|brake", title_exclude="(?i)live")
    assert skip_reason(cand(title="Chain care"), regex) is None
    assert skip_reason(cand(title="Saddle height"), regex) == "title_filter"
    assert skip_reason(cand(title="Chain care LIVE"), regex) == "title_filter"
    window = DownloadConfig(date_after=date(2026, 3, 10), date_before=date(2026, 3, 31))
    assert skip_reason(cand(upload_date="20260309"), window) == "date_window"
    assert skip_reason(cand(upload_date="20260310"), window) is None
    assert skip_reason(cand(upload_date="20260401"), window) == "date_window"
    assert skip_reason(cand(), window) is None  # unknown yet: checked again after extraction


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="not a valid regular expression"):
        DownloadConfig(title_include="(")
    with pytest.raises(ValueError, match="date_after is later than date_before"):
        DownloadConfig(date_after=date(2026, 2, 1), date_before=date(2026, 1, 1))


def test_source_access_keys_moved_to_input_with_a_pointer():
    from tube2lora_shared.config import validate_section
    from tube2lora_shared.errors import UsageError

    with pytest.raises(UsageError) as raised:
        validate_section("download", {"media": "audio", "proxy_env": "MY_PROXY"}, DownloadConfig)
    assert str(raised.value) == ("download: proxy_env moved to the input section (input.proxy_env): transcribe "
                                 "reaches the source too")
