"""Make as the scheduler: targets are manifests, a second run does nothing, -n shows the plan."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness import REPO

from tube2lora_shared.config import load_config
from tube2lora_shared.rundir import RunDir


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args],
                          capture_output=True, text=True, timeout=300)


def test_make_download_then_nothing_to_do(recipe, channel):
    path = recipe(input={"urls": [f"{channel.base_url}/feed.xml"]}, download={"retries": 0, "attempts": 1})
    manifest = RunDir.for_config(load_config(path)).stage_dir("download") / "manifest.json"

    plan = make("-n", "download", f"CONFIG={path}")
    assert plan.returncode == 0, plan.stderr
    assert f"tube2lora-download --config {path}" in plan.stdout
    assert not manifest.exists()

    first = make("download", f"CONFIG={path}")
    assert first.returncode == 0, first.stderr
    assert manifest.exists()
    media_requests = channel.media_requests()
    assert media_requests >= 8

    second = make("download", f"CONFIG={path}")
    assert second.returncode == 0
    assert "Nothing to be done for 'download'" in second.stdout
    assert channel.media_requests() == media_requests

    status = make("status", f"CONFIG={path}")
    assert status.returncode == 0
    row = next(line for line in status.stdout.splitlines() if "download" in line)
    assert "done" in row and "8" in row

    os.utime(path)  # the recipe file is newer: the stage runs, finds nothing changed, exits at once
    third = make("download", f"CONFIG={path}")
    assert third.returncode == 0 and "is current" in third.stderr
    assert channel.media_requests() == media_requests
    assert "Nothing to be done" in make("download", f"CONFIG={path}").stdout


def test_make_force_redoes_from_the_cache(recipe, channel):
    path = recipe(input={"urls": [f"{channel.base_url}/feed.xml"]}, download={"retries": 0, "attempts": 1})
    assert make("download", f"CONFIG={path}").returncode == 0
    before = channel.media_requests()
    forced = make("download", f"CONFIG={path}", "FORCE=1")
    assert forced.returncode == 0 and "8 cached" in forced.stderr
    assert channel.media_requests() == before


def test_make_with_a_broken_config_stops_with_the_error(recipe):
    path = recipe(pipeline={"max_failure_rate": "lots"})
    result = make("download", f"CONFIG={path}")
    assert result.returncode != 0
    assert "pipeline.max_failure_rate: Input should be a valid number" in result.stderr
    assert not Path(path.parent / "runs").exists()


def test_help_lists_stage_targets():
    result = make("help")
    assert result.returncode == 0
    assert "download" in result.stdout and "test" in result.stdout
