"""Caption requests are paced like media and stop once YouTube refuses download.breaker_after of them in a row
(the real youtube-transcript-api against the fake YouTube HTTP layer; download's fetch settings carry the
pacing and the breaker, as the download stage publishes them)."""

from __future__ import annotations

import time

import pytest
from fakes.youtube import FakeTrack, FakeVideo, FakeYouTube
from harness import publish_download
from test_captions import transcripts

from tube2lora_shared.config import load_config
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.records import Video
from tube2lora_shared.rundir import RunDir
from tube2lora_transcribe import captions
from tube2lora_transcribe.cli import SPEC as TRANSCRIBE

LINES = [(0.0, 2.0, "Alright, grease monkeys, Toby here."), (2.0, 3.5, "Chain and cassette care, no drama.")]
IDS = ["okFirst0001", "blocked0002", "blocked0003", "okLater0004", "okLater0005"]


def captioned(blocked: bool = False) -> FakeVideo:
    return FakeVideo([FakeTrack("en", "English", LINES)], blocked=blocked)


@pytest.fixture
def youtube(monkeypatch):
    fake = FakeYouTube({vid: captioned(blocked=vid.startswith("blocked")) for vid in IDS})
    monkeypatch.setattr(captions, "new_session", fake.session)
    return fake


def youtube_video(vid: str) -> Video:
    """A YouTube video the download stage kept no media of; its on-demand audio is no request yt-dlp can make
    (no extractor takes the URL), so the test never reaches the internet."""
    return Video(id=vid, url=f"http://127.0.0.1:9/{vid}", title=f"title of {vid}", extractor="Youtube",
                 archive_id=f"youtube {vid}", status="success")


def asked(fake: FakeYouTube) -> int:
    return fake.requests["/watch"]


def test_refused_captions_stop_the_asking_and_the_next_run_asks_only_the_rest(recipe, youtube, capfd):
    path = recipe(transcribe={"prefer": "captions", "speakers": "off"}, download={"breaker_after": 2},
                  pipeline={"max_failure_rate": 1})
    publish_download(path, [(youtube_video(vid), None) for vid in IDS])
    assert run_stage(TRANSCRIBE, path) == 1
    assert asked(youtube) == 3  # the first, then two refusals: the last two videos were not asked
    errors = [line for line in capfd.readouterr().err.splitlines() if " ERROR " in line]
    assert len(errors) == 1, errors
    for words in ("transcribe stopped asking the source after 2 videos in a row were refused", "IpBlocked",
                  "download.breaker_after=2", "2 video(s) left unasked", "1 finished one(s) kept",
                  "input.proxy_env", "re-run in a few hours"):
        assert words in errors[0], errors[0]
    assert RunDir.for_config(load_config(path)).stage_dir("transcribe").exists() is False  # nothing published

    for vid in IDS:  # YouTube lets this address through again
        youtube.videos[vid] = captioned()
    youtube.requests.clear()
    assert run_stage(TRANSCRIBE, path) == 0
    assert asked(youtube) == 4  # the first video's captions came from the cache
    t = transcripts(path)
    assert t["okFirst0001"].status == "cached" and all(t[v].status == "success" for v in IDS[1:])
    assert all(t[v].source == "youtube_manual" for v in IDS)


def test_whisper_covers_videos_with_media_after_the_breaker_opens(recipe, youtube, media_samples, capfd):
    path = recipe(transcribe={"prefer": "captions", "speakers": "off"}, download={"breaker_after": 2})
    good = media_samples / "good.opus"  # the same audio for each: whisper transcribes it once, then the cache
    publish_download(path, [(youtube_video(vid), good) for vid in IDS])
    assert run_stage(TRANSCRIBE, path) == 0
    assert asked(youtube) == 3
    t = transcripts(path)
    assert t["okFirst0001"].source == "youtube_manual"
    assert all(t[v].source == "whisper" for v in IDS[1:])
    assert "were not asked for captions and were transcribed by whisper" in capfd.readouterr().err


def test_caption_requests_are_paced_like_media(recipe, youtube):
    path = recipe(transcribe={"prefer": "captions", "speakers": "off"},
                  download={"sleep_interval_s": 0.2, "max_sleep_interval_s": 0.3, "sleep_requests_s": 0.1})
    ids = ["okFirst0001", "okLater0004", "okLater0005"]
    publish_download(path, [(youtube_video(vid), None) for vid in ids])
    started = time.monotonic()
    assert run_stage(TRANSCRIBE, path) == 0
    elapsed = time.monotonic() - started
    requests = sum(youtube.requests.values())  # watch page, player API and timedtext per video
    assert requests == 3 * len(ids)
    assert elapsed >= len(ids) * 0.2 + requests * 0.1  # a pause before each video and after each request
    assert all(t.source == "youtube_manual" for t in transcripts(path).values())
