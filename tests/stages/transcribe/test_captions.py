"""YouTube captions through the real youtube-transcript-api, against a fake YouTube HTTP layer."""

from __future__ import annotations

import pytest
from fakes.youtube import FakeTrack, FakeVideo, FakeYouTube
from harness import publish_download, video

from tube2lora_shared.config import load_config
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.records import Transcript, Video
from tube2lora_shared.rundir import RunDir
from tube2lora_transcribe import captions
from tube2lora_transcribe.cli import SPEC as TRANSCRIBE

LINES = [(0.0, 2.0, "Alright, grease monkeys, Toby here."), (2.0, 3.5, "Chain & cassette care, no drama.")]


@pytest.fixture
def youtube(monkeypatch):
    fake = FakeYouTube({
        "manualGB001": FakeVideo([FakeTrack("en-GB", "English (UK)", LINES),
                                  FakeTrack("en", "English (auto)", [(0, 1, "wrong")], generated=True)]),
        "autoOnly001": FakeVideo([FakeTrack("en", "English (auto)", LINES, generated=True)]),
        "blocked0001": FakeVideo([FakeTrack("en", "English", LINES)], blocked=True),
        "disabled001": FakeVideo(disabled=True),
        "french00001": FakeVideo([FakeTrack("fr", "Français", [(0, 2, "Bonjour à tous")])]),
    })
    monkeypatch.setattr(captions, "new_session", fake.session)
    return fake


def transcripts(path) -> dict[str, Transcript]:
    stage = RunDir.for_config(load_config(path)).stage_dir("transcribe")
    return {t.id: t for t in read_jsonl(stage / "transcripts.jsonl", Transcript)}


def test_caption_choice_and_fallbacks(recipe, youtube, media_samples):
    path = recipe(transcribe={"prefer": "captions"})
    good = media_samples / "good.opus"
    publish_download(path, [(video("manualGB001"), None), (video("autoOnly001"), good),
                            (video("blocked0001"), good), (video("disabled001"), good),
                            (video("french00001"), good)])
    assert run_stage(TRANSCRIBE, path) == 0
    t = transcripts(path)
    manual = t["manualGB001"]
    assert (manual.source, manual.language, manual.status) == ("youtube_manual", "en-GB", "success")
    assert manual.text == "Alright, grease monkeys, Toby here. Chain & cassette care, no drama."
    assert [(s.start, s.end) for s in manual.segments] == [(0.0, 2.0), (2.0, 5.5)]
    for fallback in ("autoOnly001", "blocked0001", "disabled001", "french00001"):
        assert t[fallback].source == "whisper" and t[fallback].status in ("success", "cached"), fallback
    assert youtube.requests["/api/timedtext"] == 1  # only the chosen track was fetched


def test_auto_captions_when_allowed(recipe, youtube):
    path = recipe(transcribe={"prefer": "captions", "captions": {"allow_auto": True}})
    publish_download(path, [(video("autoOnly001"), None)])
    assert run_stage(TRANSCRIBE, path) == 0
    assert transcripts(path)["autoOnly001"].source == "youtube_auto"


def test_captions_only_in_another_language_are_rejected_with_a_reason(recipe, youtube, monkeypatch):
    path = recipe(input={"languages": ["de"]}, transcribe={"prefer": "captions"}, pipeline={"max_failure_rate": 1})
    publish_download(path, [(video("manualGB001"), None)])
    monkeypatch.setattr("tube2lora_transcribe.run.fetch_audio", _no_network)
    assert run_stage(TRANSCRIBE, path) == 0
    t = transcripts(path)["manualGB001"]
    assert t.status == "failed" and t.reason == "no_audio_source"
    assert "language_not_allowed: captions only in ['en', 'en-GB'], not in input.languages ['de']" in t.error


def test_blocked_captions_without_audio_fail_retryably(recipe, youtube, monkeypatch):
    path = recipe(transcribe={"prefer": "captions"}, pipeline={"max_failure_rate": 1})
    publish_download(path, [(video("blocked0001"), None)])
    monkeypatch.setattr("tube2lora_transcribe.run.fetch_audio", _no_network)
    assert run_stage(TRANSCRIBE, path) == 0
    t = transcripts(path)["blocked0001"]
    assert t.status == "failed" and "captions_blocked" in t.error
    manifest = RunDir.for_config(load_config(path)).stage_dir("transcribe") / "manifest.json"
    assert manifest.stat().st_mtime == 0  # the next run tries again


def test_audio_on_demand_for_a_video_without_media(recipe, channel):
    path = recipe(transcribe={"prefer": "captions"}, download={"retries": 0, "attempts": 1})
    url = f"{channel.base_url}/media/short01-quick-tip.opus"
    item = Video(id="short01-quick-tip", url=url, extractor="Generic", archive_id="generic short01-quick-tip",
                 status="success", title="Quick tip")
    publish_download(path, [(item, None)])
    assert run_stage(TRANSCRIBE, path) == 0
    t = transcripts(path)["short01-quick-tip"]
    assert t.source == "whisper" and "keep the rubber side down" in t.text.lower()
    assert channel.media_requests() >= 1
    channel.requests.clear()
    assert run_stage(TRANSCRIBE, path, force=True) == 0
    assert transcripts(path)["short01-quick-tip"].status == "cached"
    assert channel.media_requests() == 0


def _no_network(video, *args, **kwargs):
    from tube2lora_media.ytdlp import SourceError

    raise SourceError("ERROR: [youtube] x: Unable to download webpage: <urlopen error [Errno -3] Temporary failure in name resolution>")


def test_a_caption_line_break_inside_a_japanese_sentence_adds_no_space(recipe, monkeypatch):
    """YouTube caption cues wrap onto a second line; in Japanese the break falls mid-sentence, and a space put
    there would reach the training text. Latin lines still get their space."""
    fake = FakeYouTube({
        "jaWrapped01": FakeVideo([FakeTrack("ja", "日本語", [(0.0, 3.0, "まず、ホイールを\n自転車から外して、"),
                                                            (3.0, 3.0, "振れ取り台に\n取り付けます。")])]),
        "enWrapped01": FakeVideo([FakeTrack("en", "English", [(0.0, 3.0, "Take the wheel\noff the bike.")])]),
    })
    monkeypatch.setattr(captions, "new_session", fake.session)
    path = recipe(input={"languages": ["ja", "en"]}, transcribe={"prefer": "captions", "speakers": "off"})
    publish_download(path, [(video("jaWrapped01"), None), (video("enWrapped01"), None)])
    assert run_stage(TRANSCRIBE, path) == 0
    t = transcripts(path)
    assert [s.text for s in t["jaWrapped01"].segments] == ["まず、ホイールを自転車から外して、", "振れ取り台に取り付けます。"]
    assert t["jaWrapped01"].text == "まず、ホイールを自転車から外して、振れ取り台に取り付けます。"
    assert t["enWrapped01"].text == "Take the wheel off the bike."
