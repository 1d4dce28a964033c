"""Channel sync: a listing older than download.relist_after_hours makes Make run download again; it lists the
channel again, fetches only what is new, and keeps what it published (so nothing downstream runs) when nothing is."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from harness import REPO, SampleChannelServer

from tube2lora_download.listing import ListingRecord
from tube2lora_shared.config import load_config
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import Video
from tube2lora_shared.rundir import RunDir

FAST = {"retries": 0, "attempts": 1}
NEW = "ep08-winter-storage"
TOOL = str(Path(sys.executable).parent / "tube2lora")


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args],
                          capture_output=True, text=True, timeout=300)


def tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def growing():
    """A sample channel of its own, whose last episode is not uploaded yet."""
    with SampleChannelServer() as server:
        server.hidden.add(NEW)
        yield server


def back_date(run: RunDir, hours: float) -> None:
    """The published listing as if it were `hours` old (no sleeping)."""
    path = ListingRecord.path(run.stage_dir("download"))
    record = json.loads(path.read_text())
    record["listed_at"] = (datetime.now(timezone.utc) - timedelta(hours=hours)).isoformat(timespec="seconds")
    path.write_text(json.dumps(record))


def videos(run: RunDir) -> dict[str, Video]:
    return {v.id: v for v in read_jsonl(run.stage_dir("download") / "videos.jsonl", Video)}


def test_a_feed_that_gains_an_episode_is_listed_again_and_only_the_new_one_fetched(recipe, growing):
    path = recipe(input={"urls": [f"{growing.base_url}/feed.xml"]}, download=FAST)  # relist_after_hours: 24
    run = RunDir.for_config(load_config(path))
    first = make("download", f"CONFIG={path}")
    assert first.returncode == 0, first.stderr
    assert NEW not in videos(run)
    listed = ListingRecord.read(run.stage_dir("download"))
    assert listed.videos == 9 and len(listed.sources) == 1 and listed.sources[0].videos == 9  # 7 + short + 404

    growing.hidden.clear()  # the channel uploads an episode; a fresh listing is not looked at again
    assert "Nothing to be done for 'download'" in make("download", f"CONFIG={path}").stdout
    assert tool("run-dir", "--due", "--config", str(path)).stdout.splitlines()[1:] in ([], [""])

    back_date(run, hours=25)  # a day later
    due = tool("run-dir", "--due", "--config", str(path)).stdout.splitlines()
    assert due == [str(run.root), "download"]
    assert "due: the listing is 25.0 h old" in tool("status", "--config", str(path)).stdout
    growing.requests.clear()
    second = make("download", f"CONFIG={path}")
    assert second.returncode == 0, second.stderr
    assert "the listing changed: 10 video(s) now, 9 before" in second.stderr
    assert growing.media_requests() == growing.requests[f"/media/{NEW}.opus"] >= 1  # only the new one's media
    found = videos(run)
    assert found[NEW].status == "success" and (run.root / found[NEW].media_path).is_file()
    assert sorted(v.id for v in found.values() if v.status == "cached") == [
        f"ep0{i}-{name}" for i, name in enumerate(["chain-care", "puncture-roadside", "brake-pads",
                                                     "gear-indexing", "tubeless-setup", "saddle-height",
                                                     "wheel-truing"], start=1)]
    relisted = ListingRecord.read(run.stage_dir("download"))  # the run directory says which listing it holds
    assert relisted.videos == 10 and relisted.digest != listed.digest and relisted.listed_at > listed.listed_at
    summary = tool("summary", "--config", str(path)).stdout
    assert f"listing    10 video(s) from 1 source, listed {relisted.listed_at[:10]}" in summary
    assert "Nothing to be done for 'download'" in make("download", f"CONFIG={path}").stdout


def test_an_unchanged_listing_leaves_downstream_current(recipe, growing):
    """relist_after_hours 0: every make lists again; the same videos keep download's manifest (content and mtime),
    so transcribe, downstream, is not run."""
    path = recipe(input={"urls": [f"{growing.base_url}/feed.xml"]},
                  download={**FAST, "relist_after_hours": 0, "include_shorts": True, "title_include": "quick"},
                  transcribe={"prefer": "whisper", "whisper": {"model": None}})
    run = RunDir.for_config(load_config(path))
    first = make("transcribe", f"CONFIG={path}")
    assert first.returncode == 0, first.stderr
    download, transcribe = (run.stage_dir(s) / "manifest.json" for s in ("download", "transcribe"))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (download, transcribe)}
    assert read_manifest(run.stage_dir("transcribe")).counts["success"] == 1

    growing.requests.clear()
    again = make("transcribe", f"CONFIG={path}")
    assert again.returncode == 0, again.stderr
    assert growing.requests["/feed.xml"] == 1 and growing.media_requests() == 0  # listed, nothing fetched
    assert "listed again: the same 9 video(s)" in again.stderr
    assert "tube2lora-transcribe" not in again.stdout  # Make did not even start transcribe
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (download, transcribe)} == before
    status = json.loads(run.run_json.read_text())["stages"]["download"]
    assert status["status"] == "succeeded" and status["refreshed_at"] >= status["finished_at"]
    assert "listed again" in tool("summary", "--config", str(path)).stdout


def test_a_source_that_cannot_be_listed_again_keeps_the_published_videos(recipe):
    with SampleChannelServer() as server:
        path = recipe(input={"urls": [f"{server.base_url}/feed.xml"]}, download={**FAST, "relist_after_hours": 0})
        assert make("download", f"CONFIG={path}").returncode == 0
    run = RunDir.for_config(load_config(path))
    manifest = run.stage_dir("download") / "manifest.json"
    before = (manifest.read_bytes(), manifest.stat().st_mtime_ns)
    offline = make("download", f"CONFIG={path}")  # the server is gone
    assert offline.returncode == 0, offline.stderr
    assert "could not list" in offline.stderr and "keeping the listing of" in offline.stderr
    assert (manifest.read_bytes(), manifest.stat().st_mtime_ns) == before
    assert "refreshed_at" not in json.loads(run.run_json.read_text())["stages"]["download"]  # looks again next time


def test_null_never_lists_again_and_the_setting_is_not_part_of_the_run(recipe, channel):
    path = recipe(input={"urls": [f"{channel.base_url}/feed.xml"]}, download={**FAST, "relist_after_hours": None})
    plain = recipe("plain.yaml", input={"urls": [f"{channel.base_url}/feed.xml"]}, download=FAST)
    run = RunDir.for_config(load_config(path))
    same = RunDir.for_config(load_config(plain)).id.rsplit("-", 1)[1] == run.id.rsplit("-", 1)[1]
    assert same  # a scheduling knob, not what the run is: the same hash (the prefix is the file's name)
    assert make("download", f"CONFIG={path}").returncode == 0
    back_date(run, hours=24 * 365)
    assert tool("run-dir", "--due", "--config", str(path)).stdout.splitlines()[1:] in ([], [""])
    assert "listed again only with FORCE=1" in tool("status", "--config", str(path)).stdout


def test_an_unreadable_listing_record_is_due_and_status_says_why(recipe, channel):
    path = recipe(input={"urls": [f"{channel.base_url}/feed.xml"]}, download=FAST)
    run = RunDir.for_config(load_config(path))
    assert make("download", f"CONFIG={path}").returncode == 0
    assert tool("run-dir", "--due", "--config", str(path)).stdout.splitlines()[1:] in ([], [""])  # fresh: not due
    ListingRecord.path(run.stage_dir("download")).write_text("{not json")
    assert tool("run-dir", "--due", "--config", str(path)).stdout.splitlines()[1] == "download"
    shown = tool("status", "--config", str(path)).stdout
    assert "download: its record could not be read" in shown and "the next `make` looks again" in shown
