"""Speaker attribution on real espeak-ng speech (two voices: a host who asks, the creator who answers) with the
real GE2E voice encoder, through the real transcribe stage: who said each segment, and which voice is the
creator's, decided across the channel (the interview and a solo episode of the same creator)."""

from __future__ import annotations

import pytest
from fakes.youtube import FakeTrack, FakeVideo, FakeYouTube
from harness import publish_download, video

from tube2lora_demo.interview import CREATOR, render
from tube2lora_shared.config import load_config
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import Segment, Transcript
from tube2lora_shared.rundir import RunDir
from tube2lora_transcribe import captions
from tube2lora_transcribe.cli import SPEC as TRANSCRIBE

pytestmark = pytest.mark.slow  # whisper and the voice encoder on about 3 minutes of speech


def truth(segment: Segment, turns: list[dict]) -> str:
    """The script's speaker for a segment: the turn it overlaps most."""
    return max(turns, key=lambda t: min(t["end"], segment.end) - max(t["start"], segment.start))["speaker"]


def word_shares(t: Transcript, turns: list[dict]) -> dict[str, float]:
    """Per true speaker, the share of their words whose segment is attributed to the right side."""
    right, total = {}, {}
    for s in t.segments:
        who, n = truth(s, turns), len(s.text.split())
        total[who] = total.get(who, 0) + n
        right[who] = right.get(who, 0) + n * (s.is_creator is (who == CREATOR))
    return {who: right[who] / total[who] for who in total}


@pytest.fixture(scope="module")
def fixture_audio(tmp_path_factory):
    return render(tmp_path_factory.mktemp("interview"))


def transcribe(recipe, audio, names, **section):
    path = recipe(transcribe={"prefer": "whisper", **section})
    publish_download(path, [(video(n, extractor="Generic"), audio[n]["file"]) if n in audio else (video(n), None)
                            for n in names])
    assert run_stage(TRANSCRIBE, path) == 0
    run = RunDir.for_config(load_config(path))
    stage = run.stage_dir("transcribe")
    return run, {t.id: t for t in read_jsonl(stage / "transcripts.jsonl", Transcript)}, read_manifest(stage)


def test_the_creator_is_found_across_the_channel_and_attributed_word_by_word(recipe, fixture_audio):
    run, t, manifest = transcribe(recipe, fixture_audio, ["interview", "solo"])
    interview, solo = t["interview"], t["solo"]
    assert interview.status == "success" and interview.speakers == 2
    shares = word_shares(interview, fixture_audio["interview"]["turns"])
    print(f"words attributed right: creator {shares[CREATOR]:.3f}, host {shares['host']:.3f}")
    assert shares[CREATOR] >= 0.9 and shares["host"] >= 0.9
    assert solo.speakers == 1 and all(s.is_creator for s in solo.segments)
    stored = Transcript.model_validate_json((run.stage_dir("transcribe") / "interview.json").read_text())
    assert stored.segments == interview.segments  # the record on disk carries the speakers


def test_a_rerun_embeds_nothing_and_off_attributes_nothing(recipe, fixture_audio):
    transcribe(recipe, fixture_audio, ["interview"])
    run, _, _ = transcribe(recipe, fixture_audio, ["interview"], speakers="on")  # a new run directory
    metrics = (run.stage_dir("transcribe") / "metrics.jsonl").read_text()
    assert '"speakers_cached": true' in metrics
    _, off, _ = transcribe(recipe, fixture_audio, ["interview"], speakers="off")
    assert all(s.speaker is None and s.is_creator is None for s in off["interview"].segments)
    assert off["interview"].speakers is None


def test_an_interview_alone_takes_a_reference_clip_or_is_dropped_not_guessed(recipe, fixture_audio, tmp_path):
    # The interview alone, with a clip of the creator (the solo episode) as the reference voice.
    _, t, _ = transcribe(recipe, fixture_audio, ["interview"], creator_voice_file=str(fixture_audio["solo"]["file"]))
    assert word_shares(t["interview"], fixture_audio["interview"]["turns"])[CREATOR] >= 0.9
    # Without the clip, the interview alone does not tell which voice is the creator's: dropped, not guessed.
    _, t, _ = transcribe(recipe, fixture_audio, ["interview"])
    assert (t["interview"].status, t["interview"].reason) == ("skipped", "creator_unknown")
    assert "transcribe.creator_voice_file" in t["interview"].error
    # A margin no voice can meet: the creator cannot be told apart, so the video is dropped with its reason.
    _, t, manifest = transcribe(recipe, fixture_audio, ["interview", "solo"], diarization={"creator_margin": 0.99})
    assert (t["interview"].status, t["interview"].reason) == ("skipped", "creator_unknown")
    assert "creator_margin" in t["interview"].error
    assert manifest.counts["dropped_creator_unknown"] == 1


def test_captions_are_attributed_from_the_downloaded_audio_and_unknown_without(recipe, fixture_audio, monkeypatch):
    turns = fixture_audio["interview"]["turns"]
    lines = [(t["start"], t["end"] - t["start"], t["text"]) for t in turns]  # (start, duration, text)
    fake = FakeYouTube({"interview01": FakeVideo([FakeTrack("en", "English", lines)]),
                        "noaudio0001": FakeVideo([FakeTrack("en", "English", [(0.0, 3.0, "Hello there.")])])})
    monkeypatch.setattr(captions, "new_session", fake.session)
    # The interview is the channel's only video with voices: the solo episode, as a clip, says which is the creator.
    path = recipe(transcribe={"prefer": "captions", "creator_voice_file": str(fixture_audio["solo"]["file"])})
    publish_download(path, [(video("interview01"), fixture_audio["interview"]["file"]), (video("noaudio0001"), None)])
    assert run_stage(TRANSCRIBE, path) == 0
    stage = RunDir.for_config(load_config(path)).stage_dir("transcribe")
    t = {x.id: x for x in read_jsonl(stage / "transcripts.jsonl", Transcript)}
    assert t["interview01"].source == "youtube_manual" and t["interview01"].speakers == 2
    assert [s.is_creator for s in t["interview01"].segments] == [u["speaker"] == CREATOR for u in turns]
    assert t["noaudio0001"].source == "youtube_manual" and t["noaudio0001"].segments[0].is_creator is None
    assert read_manifest(stage).counts["speakers_unknown_no_audio"] == 1
