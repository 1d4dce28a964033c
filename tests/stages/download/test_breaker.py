"""The circuit breaker: a source that starts refusing (HTTP 429 through yt-dlp's generic extractor) stops the
download stage after download.breaker_after videos refused in a row; finished media is kept, one message says what to
do, and the next run, with the source healthy again, asks only for what is missing."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_download import cli, outputs

from tube2lora_demo.sample_channel.server import feed_xml
from tube2lora_download.failures import classify
from tube2lora_media.politeness import CircuitBreaker, blocked_reason
from tube2lora_shared.documents import FetchSettings

FIRST = ["ep01-chain-care", "ep02-puncture-roadside", "ep03-brake-pads"]  # fetched before the source turns
LATER = ["ep04-gear-indexing", "ep05-tubeless-setup", "ep06-saddle-height", "ep07-wheel-truing",
         "ep08-winter-storage"]


class TurningSource:
    """The sample channel's feed and media; once `refusing`, every media request past the first episodes
    gets 429 Too Many Requests (as a rate-limited host answers)."""

    def __init__(self, channel):
        self.channel, self.refusing, self.feed_refused = channel, True, False
        self.requests: Counter[str] = Counter()
        source = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                source.requests[self.path] += 1
                if self.path == "/feed.xml" and source.feed_refused:
                    return self._send(429, b"<html><body>Too Many Requests</body></html>", "text/html")
                if self.path == "/feed.xml":
                    return self._send(200, feed_xml(source.base_url, channel.index).encode(), "application/rss+xml")
                name = self.path.removeprefix("/media/")
                media = channel.media_dir / name
                if source.refusing and name.removesuffix(".opus") not in FIRST:
                    return self._send(429, b"<html><body>Too Many Requests</body></html>", "text/html")
                if not media.is_file():
                    return self._send(404, b"not found", "text/plain")
                self._send(200, media.read_bytes(), "audio/ogg")

            do_HEAD = do_GET

            def _send(self, code: int, body: bytes, ctype: str):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "GET":
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def asked(self, episode: str) -> int:
        return self.requests[f"/media/{episode}.opus"]


@pytest.fixture
def turning(channel):
    source = TurningSource(channel)
    thread = threading.Thread(target=source.httpd.serve_forever, daemon=True)
    thread.start()
    yield source
    source.httpd.shutdown()
    source.httpd.server_close()


def test_refusals_in_a_row_stop_the_stage_and_the_next_run_fetches_only_the_rest(recipe, turning):
    path = recipe(input={"urls": [f"{turning.base_url}/feed.xml"]},
                  download={"retries": 0, "attempts": 2, "backoff_s": 0, "breaker_after": 3})
    first = cli(path)
    assert first.returncode == 1
    errors = [line for line in first.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, first.stderr  # one message: what happened, what was kept and left, the remedy
    message = errors[0]
    for words in ("stopped asking the source after 3 videos in a row were refused", "rate limit (HTTP 429",
                  "download.breaker_after=3", "left unasked", "3 finished one(s) kept", "input.cookies_env",
                  "input.proxy_env", "re-run in a few hours"):
        assert words in message, message
    # ep04-ep06 refused (each after its two attempts): the breaker opened there; nothing later was asked
    assert [turning.asked(e) for e in LATER] == [2, 2, 2, 0, 0]
    assert turning.asked("ep09-lost-episode") == 0
    assert "3 video(s) left unasked" in message  # ep07, ep08 and the lost episode; the short is no request
    _, manifest, _ = outputs(path)
    assert manifest is None  # a failed stage publishes nothing; finished media waits in the cache

    turning.refusing = False
    turning.requests.clear()
    second = cli(path)
    assert second.returncode == 0, second.stderr
    run, manifest, videos = outputs(path)
    assert all(turning.asked(e) == 0 for e in FIRST)  # kept from the first run: not asked again
    assert all(turning.asked(e) >= 1 for e in LATER)
    assert manifest.counts["cached"] == 3 and manifest.counts["success"] == 5
    assert all((run.root / videos[e].media_path).is_file() for e in FIRST + LATER)
    settings = FetchSettings.read(run.stage_dir("download"))
    assert settings.breaker_after == 3 and settings.js_runtime.startswith("deno ")


def test_a_refused_listing_says_so_with_the_remedy_not_check_the_urls(recipe, turning):
    turning.feed_refused = True
    path = recipe(input={"urls": [f"{turning.base_url}/feed.xml"]}, download={"retries": 0})
    result = cli(path)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "the source refused to list 1 of 1 source(s) in input (rate_limited)" in errors[0]
    assert "raise download.sleep_interval_s" in errors[0] and "check the URLs" not in errors[0]


def test_breaker_off_asks_every_video(recipe, turning):
    path = recipe(input={"urls": [f"{turning.base_url}/feed.xml"]},
                  download={"retries": 0, "attempts": 1, "breaker_after": 0},
                  pipeline={"max_failure_rate": 1.0})
    result = cli(path)
    assert result.returncode == 0, result.stderr
    assert all(turning.asked(e) == 1 for e in LATER)
    _, manifest, _ = outputs(path)
    assert manifest.counts["failed_rate_limited"] == len(LATER) + 1 and manifest.counts["success"] == 3


def test_breaker_counts_only_refusals_in_a_row():
    breaker = CircuitBreaker(3)
    for reason in ("bot_check", "rate_limited", None, "bot_check", "private", "rate_limited", "network",
                   "bot_check"):
        breaker.note(reason)
    assert not breaker.open  # every other answer ended the streak
    breaker.note("network")  # no answer from the source: neither counts nor ends the streak
    breaker.note("captions_blocked")
    assert breaker.open
    breaker.note(None)  # once open it stays open for the run
    assert breaker.open and "bot check" in breaker.message("transcribe", "video(s)", 2, 5)
    assert "a signed-in browser's cookies (input.cookies_env)" in breaker.message("download", "video(s)", 2, 5)
    configured = breaker.message("download", "video(s)", 2, 5, cookies=True, proxy=True)
    assert "fresh cookies" in configured and "another proxy" in configured


def test_yt_dlp_refusals_are_recognised():
    assert blocked_reason("ERROR: [youtube] abc: Sign in to confirm you\u2019re not a bot. Use --cookies") \
        == "bot_check"
    assert blocked_reason("ERROR: [generic] x: Unable to download webpage: HTTP Error 429: Too Many Requests") \
        == "rate_limited"
    assert blocked_reason("ERROR: [youtube] abc: This content isn't available, try again later. The current session "
                          "has been rate-limited by YouTube for up to an hour.") == "rate_limited"
    assert blocked_reason("ERROR: [youtube] abc: Verify. YouTube is requiring a captcha challenge before playback") \
        == "bot_check"
    assert blocked_reason("ERROR: [generic] x: HTTP Error 404: Not Found") is None


def test_no_format_is_asked_again_now_that_a_javascript_runtime_is_installed():
    failure = classify("ERROR: [youtube] abc: Requested format is not available. Use --list-formats for a list")
    assert (failure.reason, failure.retryable) == ("no_format", True)
    assert "yt-dlp-ejs" in failure.hint and "download.audio_format" in failure.hint
