"""Damaged media (an m4a cut to a seventh): transcribe drops the cached copy and fetches the video once more; a good
copy is transcribed, a damaged one again is a permanent failure that Make then leaves alone."""

from __future__ import annotations

import subprocess

import pytest
from fakes.media_host import FakeMediaHost
from harness import REPO

from tube2lora_download.cli import SPEC as DOWNLOAD
from tube2lora_shared.config import load_config
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import Transcript
from tube2lora_shared.rundir import RunDir
from tube2lora_transcribe.cli import SPEC as TRANSCRIBE


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tip(tmp_path_factory, sample_channel) -> tuple[bytes, bytes]:
    """The sample channel's 8-second tip as an m4a (moov at the end, as ffmpeg writes it), and its first seventh."""
    out = tmp_path_factory.mktemp("m4a") / "tip.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i",
                    str(sample_channel.media_dir / "short01-quick-tip.opus"), "-c:a", "aac", "-b:a", "48k", str(out)],
                   check=True)
    whole = out.read_bytes()
    return whole, whole[: len(whole) // 7]


def flaky_recipe(recipe, host: FakeMediaHost):
    return recipe(pipeline={"max_failure_rate": 1.0}, input={"urls": [f"{host.base_url}/feed.xml"]},
                  download={"retries": 0, "attempts": 1},
                  transcribe={"prefer": "whisper", "whisper": {"model": None}})


def transcripts(path) -> tuple[RunDir, dict[str, Transcript]]:
    run = RunDir.for_config(load_config(path))
    return run, {t.id: t for t in read_jsonl(run.stage_dir("transcribe") / "transcripts.jsonl", Transcript)}


def download_the_damaged_copy(recipe, host: FakeMediaHost):
    path = flaky_recipe(recipe, host)
    assert run_stage(DOWNLOAD, path) == 0
    assert host.gets["tip.m4a"] == 2  # yt-dlp looks at the URL, then downloads
    return path


def test_a_damaged_download_is_fetched_again_and_transcribed(recipe, tip):
    good, cut = tip
    with FakeMediaHost({"tip.m4a": cut}) as host:
        path = download_the_damaged_copy(recipe, host)
        host.files["tip.m4a"] = good  # the source serves the whole file now
        assert run_stage(TRANSCRIBE, path) == 0
        run, found = transcripts(path)
        assert host.gets["tip.m4a"] == 4  # fetched once more
        assert found["tip"].status == "success" and "rubber side down" in found["tip"].text.lower()
        assert "tip: its media did not decode; the copy fetched again did" in run.log_file.read_text()
        assert "Nothing to be done for 'transcribe'" in make("transcribe", f"CONFIG={path}").stdout
        assert host.gets["tip.m4a"] == 4


@pytest.mark.parametrize("again", ["same", "other"])
def test_a_copy_damaged_again_is_permanent_and_make_is_done(recipe, tip, again):
    good, cut = tip
    with FakeMediaHost({"tip.m4a": cut}) as host:
        path = download_the_damaged_copy(recipe, host)
        if again == "other":
            host.files["tip.m4a"] = good[: len(good) // 6]  # damaged differently
        assert run_stage(TRANSCRIBE, path) == 0
        run, found = transcripts(path)
        assert host.gets["tip.m4a"] == 4
        t = found["tip"]
        assert (t.status, t.reason) == ("failed", "corrupt_media")
        assert "cannot decode" in t.error and "the source's file is damaged" in t.error
        assert ("the same bytes" if again == "same" else "fetched again: cannot decode") in t.error
        manifest = read_manifest(run.stage_dir("transcribe"))
        assert not manifest.items["tip"].retryable and "corrupt_media" in manifest.items["tip"].error
        assert "Nothing to be done for 'transcribe'" in make("transcribe", f"CONFIG={path}").stdout
        assert run_stage(TRANSCRIBE, path, force=True) == 0  # remembered: no fetch, the same failure
        assert host.gets["tip.m4a"] == 4 and transcripts(path)[1]["tip"].reason == "corrupt_media"
