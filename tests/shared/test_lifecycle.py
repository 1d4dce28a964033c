"""The stage lifecycle with small in-test stages: publish, current, force, failures, upstream, lock."""

import json
import os

import pytest
from pydantic import Field

from tube2lora_shared.config import Section, load_config
from tube2lora_shared.jsonl import write_jsonl
from tube2lora_shared.lifecycle import StageSpec, run_stage
from tube2lora_shared.pipeline import spec_of
from tube2lora_shared.lock import RunLock
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import Video
from tube2lora_shared.rundir import RunDir


class ToySection(Section):
    items: int = Field(3, ge=0)
    fail: list[int] = Field(default_factory=list)
    transient: bool = False


def toy_stage(name="download", calls=None):
    def run(ctx):
        calls.append(ctx.section.items) if calls is not None else None
        videos = []
        for i in range(ctx.section.items):
            if i in ctx.section.fail:
                ctx.record(f"v{i}", "failed", "network" if ctx.section.transient else "not_found",
                           "boom", retryable=ctx.section.transient)
                continue
            path, rel = ctx.artifact(f"v{i}.bin")
            path.write_bytes(b"x" * (i + 1))
            ctx.record(f"v{i}", "success")
            videos.append(Video(id=f"v{i}", url=f"http://x/{i}", status="success", media_path=rel))
            ctx.metric(id=f"v{i}", bytes=i + 1)
        write_jsonl(ctx.out_dir / "videos.jsonl", videos)

    return StageSpec(name=name, package="tube2lora-shared", section=ToySection, run=run,
                     upstream=spec_of(name).upstream)


def test_publish_writes_outputs_manifest_and_run_json(recipe):
    path = recipe(download={"items": 3})
    assert run_stage(toy_stage(), path) == 0
    run = RunDir.for_config(load_config(path))
    manifest = read_manifest(run.stage_dir("download"))
    assert manifest.counts == {"success": 3}
    assert manifest.outputs["videos.jsonl"].records == 3
    assert manifest.outputs["metrics.jsonl"].records == 3
    assert manifest.config == {"download": {"items": 3}}
    assert set(manifest.items) == {"v0", "v1", "v2"}
    assert manifest.library_versions["pydantic"]
    assert sorted(p.name for p in run.artifacts_dir("download").iterdir()) == ["v0.bin", "v1.bin", "v2.bin"]
    assert not run.tmp.exists()
    status = json.loads(run.run_json.read_text())["stages"]["download"]
    assert status["status"] == "succeeded" and status["counts"]["success"] == 3
    assert (run.root / "config.yaml").read_text() == path.read_text()
    assert "download: done" in run.log_file.read_text()


def test_same_inputs_do_nothing_and_force_redoes(recipe):
    calls = []
    path = recipe(download={"items": 2})
    assert run_stage(toy_stage(calls=calls), path) == 0
    assert run_stage(toy_stage(calls=calls), path) == 0
    assert calls == [2]
    assert run_stage(toy_stage(calls=calls), path, force=True) == 0
    assert calls == [2, 2]


def test_code_version_change_reruns(recipe, monkeypatch):
    calls = []
    path = recipe(download={"items": 1})
    run_stage(toy_stage(calls=calls), path)
    from tube2lora_shared import lifecycle

    real = lifecycle.versions
    monkeypatch.setattr(lifecycle, "versions", lambda names: {n: "9.9" for n in names} if "tube2lora-shared" in names else real(names))
    run_stage(toy_stage(calls=calls), path)
    assert calls == [1, 1]


def test_failure_rate_above_limit_publishes_nothing(recipe):
    path = recipe(download={"items": 4, "fail": [0, 1]}, pipeline={"max_failure_rate": 0.25})
    assert run_stage(toy_stage(), path) == 1
    run = RunDir.for_config(load_config(path))
    assert read_manifest(run.stage_dir("download")) is None
    assert not run.stage_dir("download").exists()
    entry = json.loads(run.run_json.read_text())["stages"]["download"]
    assert entry["status"] == "failed"
    assert "2 of 4 items failed (50%), above pipeline.max_failure_rate=0.25" in entry["last_error"]


def test_continue_on_error_false_fails_on_one_item(recipe):
    path = recipe(download={"items": 4, "fail": [3]}, pipeline={"continue_on_error": False})
    assert run_stage(toy_stage(), path) == 1


def test_failures_under_the_limit_publish_with_reasons(recipe):
    path = recipe(download={"items": 5, "fail": [4]}, pipeline={"max_failure_rate": 0.5})
    assert run_stage(toy_stage(), path) == 0
    manifest = read_manifest(RunDir.for_config(load_config(path)).stage_dir("download"))
    assert manifest.counts["failed_not_found"] == 1
    assert manifest.items["v4"].error == "boom"


def test_retryable_failures_make_the_next_run_retry(recipe):
    calls = []
    path = recipe(download={"items": 3, "fail": [2], "transient": True}, pipeline={"max_failure_rate": 0.5})
    assert run_stage(toy_stage(calls=calls), path) == 0
    manifest_file = RunDir.for_config(load_config(path)).stage_dir("download") / "manifest.json"
    assert manifest_file.stat().st_mtime == 0  # Make sees it as stale
    assert run_stage(toy_stage(calls=calls), path) == 0
    assert calls == [3, 3]


def test_missing_upstream_names_the_stage_to_run(recipe):
    path = recipe(transcribe={"items": 1})
    assert run_stage(toy_stage("transcribe"), path) == 1
    log = RunDir.for_config(load_config(path)).log_file.read_text()
    assert "stage download has not finished" in log and "make download CONFIG=" in log


def test_upstream_change_reruns_downstream(recipe):
    calls = []
    path = recipe(download={"items": 2}, transcribe={"items": 1})
    assert run_stage(toy_stage("download"), path) == 0
    assert run_stage(toy_stage("transcribe", calls), path) == 0
    assert run_stage(toy_stage("transcribe", calls), path) == 0
    assert calls == [1]
    run_stage(toy_stage("download"), path, force=True)  # same output: still current downstream
    assert run_stage(toy_stage("transcribe", calls), path) == 0
    assert calls == [1]


def test_lock_keeps_a_second_process_out(recipe):
    path = recipe(download={"items": 1})
    run = RunDir.for_config(load_config(path))
    run.root.mkdir(parents=True)
    with RunLock(run.root):
        assert run_stage(toy_stage(), path) == 1
    assert "is locked by another tube2lora process" in run.log_file.read_text()
    assert run_stage(toy_stage(), path) == 0


def test_stage_exception_is_one_line_and_logged(recipe, capfd):
    def explode(ctx):
        raise RuntimeError("disk on fire")

    path = recipe()
    spec = StageSpec(name="download", package="tube2lora-shared", section=ToySection, run=explode)
    assert run_stage(spec, path) == 1
    err = capfd.readouterr().err
    assert "download failed: RuntimeError: disk on fire; the traceback is in" in err
    assert "Traceback" not in err
    assert "Traceback" in RunDir.for_config(load_config(path)).log_file.read_text()


def test_stale_staging_from_a_killed_run_is_cleaned(recipe):
    path = recipe(download={"items": 1})
    run = RunDir.for_config(load_config(path))
    (run.tmp / "download-99999" / "stage").mkdir(parents=True)
    (run.tmp / "download-99999" / "stage" / "videos.jsonl").write_text("half")
    assert run_stage(toy_stage(), path) == 0
    assert not run.tmp.exists()
    assert read_manifest(run.stage_dir("download")).outputs["videos.jsonl"].records == 1


def test_edited_stage_sources_rerun_it(tmp_path, monkeypatch):
    from tube2lora_shared import lifecycle
    from tube2lora_shared.hashing import source_digest

    package = tmp_path / "toy_sources"
    package.mkdir()
    (package / "__init__.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = source_digest("toy-sources")
    assert first and source_digest("toy-sources") == first and source_digest("no-such-package") is None
    (package / "run.py").write_text("def run(ctx): pass\n")
    assert source_digest("toy-sources") != first
    from tube2lora_shared.pipeline import spec_of

    assert "tube2lora-generate 0.1.0 (sources " in lifecycle.code_version(spec_of("generate"))


def test_a_due_look_that_finds_nothing_new_keeps_the_published_output(recipe):
    """A stage with a freshness check (download's listing): due, it runs again; keep_published() leaves the
    manifest's content and mtime as they were (Make runs nothing downstream) and notes the time in run.json."""
    from tube2lora_shared.pipeline import Freshness

    calls, due = [], {"now": None}

    def run(ctx):
        calls.append(ctx.refresh)
        if ctx.refresh:
            return ctx.keep_published("the same listing")
        write_jsonl(ctx.out_dir / "videos.jsonl", [])

    spec = StageSpec(name="download", package="tube2lora-shared", section=ToySection, run=run,
                     freshness=lambda run_dir, section: Freshness("listed", due["now"]))
    path = recipe(download={"items": 1})
    assert run_stage(spec, path) == 0
    run_dir = RunDir.for_config(load_config(path))
    manifest = run_dir.stage_dir("download") / "manifest.json"
    os.utime(manifest, (1_000_000, 1_000_000))
    before = (manifest.read_bytes(), manifest.stat().st_mtime_ns)
    assert run_stage(spec, path) == 0 and calls == [None]  # not due: current, as always
    os.utime(manifest, (1_000_000, 1_000_000))
    due["now"] = "the listing is 30 h old"
    assert run_stage(spec, path) == 0 and calls == [None, "the listing is 30 h old"]
    assert (manifest.read_bytes(), manifest.stat().st_mtime_ns) == before
    status = json.loads(run_dir.run_json.read_text())["stages"]["download"]
    assert status["status"] == "succeeded" and "refreshed_at" in status
    assert not run_dir.tmp.exists()
