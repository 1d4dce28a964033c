"""The README's first command, as written: `make evaluate CONFIG=configs/sample.yaml`.

Slow tier: it serves the sample channel on the fixed port 8765 the recipe names. The recipe is copied
with `paths` changed and the prompt files' paths made absolute (neither is part of the run identity),
so the run id is the README's own.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from harness import REPO

from tube2lora_shared.config import load_config
from tube2lora_shared.identity import run_id
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.pipeline import spec_of, stage_names
from tube2lora_shared.records import Video

pytestmark = pytest.mark.slow


def absolute_files(node, base):
    """Point every `*_file` key at the same file by an absolute path (the content, not the path, counts)."""
    for key, value in node.items():
        if key.endswith("_file") and isinstance(value, str):
            node[key] = str(base / value)
        elif isinstance(value, dict):
            absolute_files(value, base)


def needed_by(stage: str) -> set[str]:
    """The stage and every stage it reads, directly or not."""
    return {stage}.union(*(needed_by(up) for up in spec_of(stage).upstream))


def test_readme_sample_job(tmp_path):
    recipe = yaml.safe_load((REPO / "configs" / "sample.yaml").read_text())
    recipe["paths"] = {"runs_dir": str(tmp_path / "runs")}
    absolute_files(recipe, REPO / "configs")
    path = tmp_path / "sample.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert run_id(load_config(path)) == run_id(load_config(REPO / "configs" / "sample.yaml"))

    def make(*args):
        return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args, f"CONFIG={path}"],
                              capture_output=True, text=True, timeout=600)

    def estimate():
        serve = [sys.executable, "-m", "tube2lora_demo.serve", "serve", "--config", str(path), "--"]
        done = subprocess.run([*serve, sys.executable, "-m", "tube2lora_shared.cli", "estimate", "--config",
                               str(path), "--json"], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return {row["stage"]: row for row in json.loads(done.stdout)["stages"]}

    forecast = estimate()  # before download: from the feed's durations (issue 16)
    assert all(row["basis"] == "forecast" for row in forecast.values())

    first = make("evaluate")
    assert first.returncode == 0, first.stderr
    assert "download: done" in first.stderr and "8 success, 1 skipped, 1 failed" in first.stderr
    for stage in stage_names()[1:]:  # every stage `make evaluate` needs ran; the ones it does not need did not
        assert (f"{stage}: done" in first.stderr) == (stage in needed_by("evaluate")), stage
    run_dir = tmp_path / "runs" / run_id(load_config(path))
    videos = list(read_jsonl(run_dir / "stages" / "download" / "videos.jsonl", Video))
    assert sum(v.has_media for v in videos) == 8
    assert all((run_dir / v.media_path).is_file() for v in videos if v.has_media)

    transcripts = (run_dir / "stages" / "transcribe" / "transcripts.jsonl").read_text().splitlines()
    assert len(transcripts) == 8 and all('"status":"success"' in line for line in transcripts)

    kept = (run_dir / "stages" / "filter" / "kept.jsonl").read_text().splitlines()
    dropped = (run_dir / "stages" / "filter" / "dropped.jsonl").read_text().splitlines()
    assert len(kept) + len(dropped) == 8 and len(kept) >= 6

    chats = (run_dir / "stages" / "generate" / "talk_as_creator" / "dataset_messages.jsonl").read_text().splitlines()
    assert len(chats) >= 8 and '"provenance"' in chats[0]
    kept_text = " ".join(json.loads(line)["text"] for line in kept)
    own = (run_dir / "stages" / "generate" / "own_words" / "dataset_messages.jsonl").read_text().splitlines()
    assert len(own) >= 6 and all(json.loads(line)["messages"][2]["content"] in kept_text for line in own)
    assert "Dataset card" in (run_dir / "stages" / "generate" / "README.md").read_text()

    assert (run_dir / "artifacts" / "train" / "adapter" / "adapter_model.safetensors").exists()
    evaluation = json.loads((run_dir / "stages" / "evaluate" / "evaluation.json").read_text())
    assert evaluation["perplexity"]["transcripts"]["adapter"] > 0 and len(evaluation["eval_videos"]) == 2
    assert (run_dir / "stages" / "evaluate" / "report.html").read_text().startswith("<!doctype html>")

    # the forecast against what the fake LLM then counted (prompt and completion tokens, from the manifests)
    used = {stage: json.loads((run_dir / "stages" / stage / "manifest.json").read_text())["token_usage"]
            for stage in forecast}
    tokens = {stage: (forecast[stage]["prompt_tokens"] + forecast[stage]["completion_tokens"],
                      used[stage].get("prompt_tokens", 0) + used[stage].get("completion_tokens", 0))
              for stage in forecast}
    print("estimate/used tokens:", {s: f"{f}/{u}" + (f" = {f / u:.2f}" if u else "") for s, (f, u) in tokens.items()})
    total = sum(f for f, _ in tokens.values()) / sum(u for _, u in tokens.values())
    assert 0.7 <= total <= 1.3, tokens
    after = estimate()  # everything current: nothing left to pay
    assert all(row["basis"] == "done" and row["requests"] == 0 for row in after.values()), after

    second = make("evaluate")
    assert second.returncode == 0 and "Nothing to be done for 'evaluate'" in second.stdout

    status = make("status")
    assert status.returncode == 0
    for stage in stage_names()[:4]:  # download ... analyze: one row per video
        row = next(line for line in status.stdout.splitlines() if f" {stage} " in line)
        assert "done" in row and "8" in row

    summary = subprocess.run([sys.executable, "-m", "tube2lora_shared.cli", "summary", "--config", str(path)],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
    assert summary.returncode == 0, summary.stderr
    lines = summary.stdout.splitlines()
    assert lines[0] == f"run {run_dir.name}: {run_dir}"  # outside the working directory: absolute
    assert "  videos     8 downloaded, 1 skipped (short 1), 1 failed (not_found 1)" in lines
    generated = json.loads((run_dir / "stages" / "generate" / "dataset_manifest.json").read_text())["generators"]
    talk = generated["talk_as_creator"]
    assert any(line.startswith(f"  examples   talk_as_creator: {talk['accepted']} of {talk['attempted']} accepted")
               for line in lines)
    ppl = evaluation["perplexity"]["transcripts"]
    assert any(line.startswith(f"  perplexity held-out transcripts: base {ppl['base']:.4g} -> adapter "
                               f"{ppl['adapter']:.4g} (") for line in lines)
    assert lines[-1] == f"  report     {run_dir / 'stages' / 'evaluate' / 'report.html'}"
