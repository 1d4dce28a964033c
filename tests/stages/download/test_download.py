"""Contract tests: the real download stage, real yt-dlp, the loopback sample channel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from harness import REPO, SampleChannelServer, as_unprivileged

from tube2lora_download.cli import SPEC
from tube2lora_shared.config import load_config
from tube2lora_shared.documents import FetchSettings
from tube2lora_shared.hashing import sha256_file
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import Video
from tube2lora_shared.rundir import RunDir

FAST = {"retries": 0, "attempts": 1}
LONG_EPISODES = 8


SCRIPT = str(Path(sys.executable).parent / "tube2lora-download")  # the installed console script


def cli(path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, "--config", str(path), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def outputs(path: Path):
    run = RunDir.for_config(load_config(path))
    manifest = read_manifest(run.stage_dir("download"))
    videos = {v.id: v for v in read_jsonl(run.stage_dir("download") / "videos.jsonl", Video)} if manifest else {}
    return run, manifest, videos


def feed_recipe(recipe, channel, **download):
    return recipe(input={"urls": [f"{channel.base_url}/feed.xml"]}, download={**FAST, **download})


def test_feed_contract_and_second_run_makes_no_requests(recipe, channel):
    path = feed_recipe(recipe, channel)
    first = cli(path)
    assert first.returncode == 0, first.stderr
    run, manifest, videos = outputs(path)
    assert manifest.counts["success"] == LONG_EPISODES
    assert manifest.counts["dropped_short"] == 1
    assert manifest.counts["failed_not_found"] == 1
    assert manifest.outputs["videos.jsonl"].records == LONG_EPISODES + 2
    assert videos["short01-quick-tip"].status == "skipped" and videos["short01-quick-tip"].reason == "short"
    lost = videos["ep09-lost-episode"]
    assert (lost.status, lost.reason) == ("failed", "not_found") and "404" in lost.error
    ep1 = videos["ep01-chain-care"]
    assert ep1.title == "Chain care without the drama"
    assert ep1.upload_date == "2026-03-02" and ep1.duration == 81
    assert ep1.channel == "Fenwick Fixes Bikes"
    assert ep1.media_path == "artifacts/download/ep01-chain-care.opus"
    media = run.root / ep1.media_path
    assert media.stat().st_size == ep1.media_bytes
    assert sha256_file(media) == ep1.media_sha256 == sha256_file(channel.media_dir / "ep01-chain-care.opus")
    assert manifest.library_versions["yt-dlp"] != "not installed"
    fetched = FetchSettings.read(run.stage_dir("download"))  # what on-demand audio in transcribe repeats
    assert (fetched.audio_format, fetched.retries) == ("bestaudio/best", FAST["retries"])
    assert "not_found" in first.stderr and "ep09-lost-episode" in first.stderr
    assert channel.media_requests() >= LONG_EPISODES

    channel.requests.clear()
    again = cli(path)
    assert again.returncode == 0 and "is current" in again.stderr
    assert sum(channel.requests.values()) == 0

    forced = cli(path, "--force")
    assert forced.returncode == 0, forced.stderr
    assert channel.media_requests() == 0  # media from the cache, the 404 remembered
    _, manifest, videos = outputs(path)
    assert manifest.counts["cached"] == LONG_EPISODES
    assert videos["ep09-lost-episode"].status == "failed"

    channel.requests.clear()
    assert cli(path, "--force", "--retry-failed").returncode == 0
    assert channel.requests["/media/ep09-lost-episode.opus"] == 1
    assert channel.media_requests() == 1


def test_a_new_run_directory_reuses_the_cache(recipe, channel, tmp_path):
    assert run_stage(SPEC, feed_recipe(recipe, channel)) == 0
    channel.requests.clear()
    other = feed_recipe(recipe, channel, max_videos=3)
    assert run_stage(SPEC, other) == 0
    _, manifest, videos = outputs(other)
    assert channel.media_requests() == 0
    assert manifest.counts["cached"] == 3
    assert manifest.counts["dropped_max_videos"] == LONG_EPISODES - 3 + 1  # + the 404 entry, listed last
    assert manifest.counts["dropped_short"] == 1
    assert [v.id for v in videos.values() if v.status == "cached"] == [
        "ep01-chain-care", "ep02-puncture-roadside", "ep03-brake-pads"]


def test_url_file_source_probes_durations_and_caches_urls(recipe, channel, tmp_path):
    (tmp_path / "urls.txt").write_text(
        "# Toby's picks\n\n"
        f"{channel.base_url}/media/ep01-chain-care.opus\n"
        f"  {channel.base_url}/media/ep03-brake-pads.opus  \n"
        "# the short one\n"
        f"{channel.base_url}/media/short01-quick-tip.opus\n"
        f"{channel.base_url}/media/ep01-chain-care.opus\n"
    )
    path = recipe(input={"url_file": "urls.txt"}, download=FAST)
    assert run_stage(SPEC, path) == 0
    _, manifest, videos = outputs(path)
    assert sorted(videos) == ["ep01-chain-care", "ep03-brake-pads", "short01-quick-tip"]
    assert videos["ep03-brake-pads"].status == "success"
    assert videos["ep03-brake-pads"].duration == pytest.approx(76.3, abs=0.5)  # ffprobe
    assert (videos["short01-quick-tip"].status, videos["short01-quick-tip"].reason) == ("skipped", "short")
    channel.requests.clear()
    assert run_stage(SPEC, path, force=True) == 0
    assert sum(channel.requests.values()) == 0  # ids remembered per URL: no request at all
    assert outputs(path)[1].counts["cached"] == 2


def test_filters_apply_with_reasons(recipe, channel):
    path = feed_recipe(recipe, channel, title_exclude="brake|gear", date_after="2026-03-20",
                       date_before="2026-04-10", media="none")
    assert run_stage(SPEC, path) == 0
    _, manifest, videos = outputs(path)
    kept = sorted(v.id for v in videos.values() if v.status == "success")
    assert kept == ["ep05-tubeless-setup", "ep06-saddle-height"]
    assert videos["ep04-gear-indexing"].reason == "title_filter"
    assert videos["ep01-chain-care"].reason == "date_window"
    assert videos["ep08-winter-storage"].reason == "date_window"
    assert videos["ep05-tubeless-setup"].media_path is None
    assert channel.media_requests() == 2  # metadata only: one probe per kept video, nothing downloaded


def test_dead_source_fails_the_stage_with_one_line(recipe, tmp_path):
    path = recipe(input={"urls": ["http://127.0.0.1:9/feed.xml"]}, download=FAST)
    result = cli(path)
    assert result.returncode == 1
    assert "no videos could be listed from 1 source(s)" in result.stderr
    assert "Traceback" not in result.stderr
    run, manifest, _ = outputs(path)
    assert manifest is None
    assert json.loads(run.run_json.read_text())["stages"]["download"]["status"] == "failed"


def test_unset_secret_env_is_a_config_error(recipe, channel, monkeypatch):
    monkeypatch.delenv("YT_COOKIES", raising=False)
    path = recipe(input={"urls": [f"{channel.base_url}/feed.xml"], "cookies_env": "YT_COOKIES"}, download=FAST)
    assert run_stage(SPEC, path) == 2
    assert channel.media_requests() == 0
    log = RunDir.for_config(load_config(path)).log_file.read_text()
    assert "input.cookies_env: environment variable YT_COOKIES is not set" in log


def test_bad_config_exits_2_with_one_line_and_writes_nothing(recipe, tmp_path):
    path = recipe(input={"urls": ["https://www.youtube.com/@x"]}, download={"max_vidoes": 3})
    result = cli(path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "download.max_vidoes: unknown key" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_read_only_runs_dir_exits_2(channel):
    top = Path(tempfile.mkdtemp(prefix="t2l-ro-"))
    top.chmod(0o755)
    (top / "runs").mkdir(mode=0o555)
    (top / "runs").chmod(0o555)
    path = top / "r.yaml"
    path.write_text(f"paths: {{runs_dir: runs}}\ninput: {{urls: ['{channel.base_url}/feed.xml']}}\n")
    path.chmod(0o644)
    with as_unprivileged():
        code = run_stage(SPEC, path)
    assert code == 2
    assert list((top / "runs").iterdir()) == []
    assert channel.media_requests() == 0


def test_killed_mid_download_resumes_cleanly(recipe, tmp_path):
    with SampleChannelServer(throttle_bps=300_000) as slow:
        path = recipe(input={"urls": [f"{slow.base_url}/feed.xml"]}, download=FAST)
        cache = tmp_path / "runs" / ".cache"
        proc = subprocess.Popen([SCRIPT, "--config", str(path)],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(cache.glob(".staging/**/*.part")):
            time.sleep(0.05)
        assert list(cache.glob(".staging/**/*.part")), "the download never started"
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        run, manifest, _ = outputs(path)
        assert manifest is None  # nothing published by the killed run
        status = subprocess.run([str(Path(sys.executable).parent / "tube2lora"), "status", "--config", str(path)],
                                capture_output=True, text=True)
        assert "interrupted" in next(line for line in status.stdout.splitlines() if " download " in line)
        assert cli(path).returncode == 0
        run, manifest, videos = outputs(path)
    assert manifest.counts["success"] + manifest.counts.get("cached", 0) == LONG_EPISODES
    lines = (run.stage_dir("download") / "videos.jsonl").read_text().splitlines()
    assert len(lines) == len({json.loads(line)["id"] for line in lines}) == LONG_EPISODES + 2
    for video in videos.values():
        if video.media_path:
            original = slow.media_dir / f"{video.id}.opus"
            assert sha256_file(run.root / video.media_path) == sha256_file(original)
    leftovers = [p for p in run.root.rglob("*") if p.name.endswith((".part", ".tmp", ".ytdl"))]
    assert leftovers == [] and not run.tmp.exists()
    assert sorted(p.name for p in run.artifacts_dir("download").iterdir()) == sorted(
        f"{v.id}.opus" for v in videos.values() if v.media_path)
