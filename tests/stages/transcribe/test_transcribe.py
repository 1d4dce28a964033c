"""Contract tests: real faster-whisper (offline tiny.en) on espeak-ng speech, via the real lifecycle."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fakes.media_host import FakeMediaHost
from harness import publish_download, video

from tube2lora_demo.sample_channel.render import load_channel
from tube2lora_demo.sample_channel.scoring import wer
from tube2lora_download.cli import SPEC as DOWNLOAD
from tube2lora_shared.config import load_config
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import Transcript
from tube2lora_shared.rundir import RunDir
from tube2lora_transcribe.cli import SPEC as TRANSCRIBE

SCRIPT = str(Path(sys.executable).parent / "tube2lora-transcribe")
EPISODES = [e for e in load_channel()["episodes"] if not e["id"].startswith("short")]


def outputs(recipe: Path):
    run = RunDir.for_config(load_config(recipe))
    stage = run.stage_dir("transcribe")
    manifest = read_manifest(stage)
    transcripts = {t.id: t for t in read_jsonl(stage / "transcripts.jsonl", Transcript)} if manifest else {}
    return run, manifest, transcripts


def sample_recipe(directory: Path, base_url: str, **pipeline) -> Path:
    path = directory / f"sample-{len(list(directory.glob('*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump({
        "pipeline": {"run_name": "t", **pipeline}, "paths": {"runs_dir": str(directory / "runs")},
        "input": {"urls": [f"{base_url}/feed.xml"]}, "download": {"retries": 0, "attempts": 1},
        "transcribe": {"prefer": "captions", "whisper": {"model": None}},
    }))
    return path


@pytest.fixture(scope="module")
def sample(tmp_path_factory, sample_channel):
    """The sample channel downloaded and transcribed once, through the console script."""
    directory = tmp_path_factory.mktemp("sample")
    recipe = sample_recipe(directory, sample_channel.base_url)
    assert run_stage(DOWNLOAD, recipe) == 0
    result = subprocess.run([SCRIPT, "--config", str(recipe)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return directory, recipe, result


def test_sample_channel_is_transcribed_offline(sample):
    _, recipe, result = sample
    run, manifest, transcripts = outputs(recipe)
    assert manifest.counts["success"] == len(EPISODES) and "failed" not in manifest.counts
    assert manifest.library_versions["faster-whisper"] != "not installed"
    for episode in EPISODES:
        t = transcripts[episode["id"]]
        assert (t.source, t.language, t.status) == ("whisper", "en", "success")
        assert t.model.startswith("tiny.en") and t.settings["compute_type"] == "int8"
        assert all(s.avg_logprob is not None and s.no_speech_prob is not None for s in t.segments)
        assert t.segments[0].start < 1 and abs(t.segments[-1].end - t.duration) < 8
        stored = Transcript.model_validate_json((run.stage_dir("transcribe") / f"{t.id}.json").read_text())
        assert stored == t
        assert (run.root / t.text_path).read_text().strip() == t.text
    metrics = [json.loads(line) for line in (run.stage_dir("transcribe") / "metrics.jsonl").read_text().splitlines()]
    assert all(0 < m["real_time_factor"] < 1 and m["words"] > 150 for m in metrics)


def test_word_error_rate_on_the_sample_scripts(sample):
    _, recipe, _ = sample
    _, _, transcripts = outputs(recipe)
    score = wer([e["script"] for e in EPISODES], [transcripts[e["id"]].text for e in EPISODES])
    print(f"WER of tiny.en int8 on the sample channel: {score:.3f}")
    assert score <= 0.15


def test_second_run_does_nothing(sample):
    _, recipe, _ = sample
    again = subprocess.run([SCRIPT, "--config", str(recipe)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "is current" in again.stderr


def test_an_unrelated_change_retranscribes_nothing(sample, sample_channel):
    directory, _, _ = sample
    changed = sample_recipe(directory, sample_channel.base_url, max_failure_rate=0.3)  # a new run directory
    assert run_stage(DOWNLOAD, changed) == 0
    assert run_stage(TRANSCRIBE, changed) == 0
    run, manifest, transcripts = outputs(changed)
    assert manifest.counts["cached"] == len(EPISODES)
    log = run.log_file.read_text()
    assert "loaded whisper" not in log  # the model was never even loaded


def test_bad_media_fail_or_skip_alone_and_only_failures_are_retried(recipe, media_samples):
    """Damaged media is fetched once more from the source (here a loopback host): `corrupt` comes back the same
    (a permanent failure), `empty` comes back whole (transcribed)."""
    path = recipe(pipeline={"max_failure_rate": 0.9}, transcribe={"prefer": "whisper"})
    names = ("good", "silent", "corrupt", "truncated", "empty")
    served = {f"{name}.opus": (media_samples / f"{name}.opus").read_bytes() for name in names}
    served["empty.opus"] = served["good.opus"]
    with FakeMediaHost(served, content_type="audio/ogg") as host:
        items = [(video(name, extractor="Generic").model_copy(update={"url": host.url(f"{name}.opus"),
                                                                      "archive_id": f"generic {name}"}),
                  media_samples / f"{name}.opus") for name in names]
        items.append((video("missing", extractor="Generic"), media_samples / "good.opus"))
        publish_download(path, items)
        run = RunDir.for_config(load_config(path))
        missing = run.root / "artifacts" / "download" / "missing.opus"
        missing.unlink()

        assert run_stage(TRANSCRIBE, path) == 0
        _, manifest, t = outputs(path)
        assert t["good"].status == "success" and "wipe the outside" in t["good"].text.lower()
        assert (t["silent"].status, t["silent"].reason, t["silent"].segments) == ("skipped", "no_speech", [])
        assert (t["corrupt"].status, t["corrupt"].reason) == ("failed", "corrupt_media")
        assert "fetched again: the same bytes" in t["corrupt"].error and host.gets["corrupt.opus"] == 2
        assert t["empty"].status in ("success", "cached")  # fetched again: good.opus's bytes, maybe already cached
        assert (t["missing"].status, t["missing"].reason) == ("failed", "missing_media")
        assert "make download FORCE=1" in t["missing"].error
        assert t["truncated"].status in ("success", "failed")  # a cut-off file: what was there, or a clear error
        assert (run.stage_dir("transcribe") / "manifest.json").stat().st_mtime == 0  # Make will retry

        shutil.copyfile(media_samples / "good.opus", missing)
        assert run_stage(TRANSCRIBE, path) == 0
        _, manifest, t = outputs(path)
        assert t["good"].status == "cached" and t["silent"].status == "skipped"
        assert t["missing"].status == "cached"  # the same bytes as good.opus: already in the cache
        assert t["corrupt"].status == "failed" and "the source's file is damaged" in t["corrupt"].error
        assert host.gets["corrupt.opus"] == 2  # remembered: not fetched again
        assert t["empty"].status == "cached"
        assert read_manifest(run.stage_dir("transcribe")).counts["cached"] >= 1
        assert (run.stage_dir("transcribe") / "manifest.json").stat().st_mtime > 0  # corrupt files are not retried:
        assert run_stage(TRANSCRIBE, path) == 0  # the same bytes would not decode next time, so Make is done
        assert "transcribe is current" in run.log_file.read_text().splitlines()[-1]


def test_whisper_rejects_a_language_not_allowed(recipe, media_samples):
    path = recipe(input={"languages": ["de"]}, transcribe={"prefer": "whisper"})
    publish_download(path, [(video("good", extractor="Generic"), media_samples / "good.opus")])
    assert run_stage(TRANSCRIBE, path) == 0
    _, manifest, t = outputs(path)
    assert (t["good"].status, t["good"].reason) == ("skipped", "language_not_allowed")
    assert "not in input.languages ['de']" in t["good"].error


def test_missing_upstream_is_named(recipe):
    path = recipe()
    assert run_stage(TRANSCRIBE, path) == 1
    assert "stage download has not finished" in RunDir.for_config(load_config(path)).log_file.read_text()


def test_hub_model_unreachable_is_one_clear_error(recipe, media_samples, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = recipe(transcribe={"prefer": "whisper", "whisper": {"model": "large-v3"}})
    publish_download(path, [(video("good", extractor="Generic"), media_samples / "good.opus")])
    assert run_stage(TRANSCRIBE, path) == 1
    log = RunDir.for_config(load_config(path)).log_file.read_text()
    assert "whisper model 'large-v3' could not be loaded" in log


def test_batched_pipeline_option(recipe, media_samples):
    path = recipe(transcribe={"prefer": "whisper", "whisper": {"batched": True, "batch_size": 4}})
    publish_download(path, [(video("good", extractor="Generic"), media_samples / "good.opus")])
    assert run_stage(TRANSCRIBE, path) == 0
    _, _, t = outputs(path)
    assert t["good"].status == "success" and t["good"].settings["batched"] is True
    assert "rubber side down" in t["good"].text.lower()
