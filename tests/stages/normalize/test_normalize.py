"""Contract tests: the normalize stage against the loopback fake OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import REPO, publish_records

from tube2lora_demo.fake_llm import FakeOpenAI
from tube2lora_normalize.cli import SPEC as NORMALIZE
from tube2lora_shared.config import load_config
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.llm import TRANSIENT
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import Normalized, Segment, Transcript
from tube2lora_shared.rundir import RunDir

PROMPT = REPO / "configs" / "prompts" / "normalize.yaml"


def transcripts(n: int = 3, segments: int = 12) -> list[Transcript]:
    out = []
    for v in range(n):
        segs = [Segment(start=i * 5.0, end=i * 5.0 + 4.5,
                        text=f"Um so video {v} part {i}, uh, the the chain needs a drop of lube here.")
                for i in range(segments)]
        out.append(Transcript(id=f"vid{v}", title=f"Video {v}", channel="Toby Fenwick", status="success",
                              source="whisper", language="en", segments=segs))
    return out


def recipe_for(recipe, server: FakeOpenAI, concurrency: int = 8, **normalize):
    path = recipe(llm={"base_url": server.base_url, "model": "fake-model", "backoff_s": 0.01, "timeout_s": 2,
                       "concurrency": concurrency},
                  normalize={"prompt_file": str(PROMPT), "target_chars": 250, "max_chars": 400, **normalize})
    publish_records(path, "transcribe", "transcripts.jsonl", transcripts())
    return path


def outputs(path: Path):
    stage = RunDir.for_config(load_config(path)).stage_dir("normalize")
    manifest = read_manifest(stage)
    records = {r.id: r for r in read_jsonl(stage / "normalized.jsonl", Normalized)} if manifest else {}
    return stage, manifest, records


def test_chunks_are_cleaned_merged_and_measured(recipe):
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server)
        assert run_stage(NORMALIZE, path) == 0
        stage, manifest, records = outputs(path)
        chunks = sum(len(r.chunks) for r in records.values())
        assert chunks > 3 and server.total == chunks
        assert manifest.counts["chunks_cleaned"] == chunks and manifest.counts["success"] == 3
        assert manifest.token_usage["requests"] == chunks and manifest.token_usage["prompt_tokens"] > 0
        record = records["vid0"]
        assert "Um " not in record.text and "the the" not in record.text and "part 11" in record.text
        assert record.text == " ".join(c.text for c in record.chunks)  # merged once, no overlap repeated
        assert record.chunks[0].start == 0 and record.chunks[-1].end == 59.5
        assert (stage / "vid0.txt").read_text().strip() == record.text
        metric = json.loads((stage / "metrics.jsonl").read_text().splitlines()[0])
        assert metric["before"]["words"] > metric["after"]["words"] and 0.8 < metric["similarity"] < 1
        assert metric["after"]["tokens"] > 0 and metric["after"]["reading_ease"] is not None
        # the prompt carries the preceding text as context, never as text to return
        second = next(b for b in server.bodies if "Earlier in the video (context only" in b["messages"][1]["content"]
                      and "(start)" not in b["messages"][1]["content"])
        assert second["response_format"]["type"] == "json_schema"

        status = subprocess.run([str(Path(sys.executable).parent / "tube2lora"), "status", "--config", str(path)],
                                capture_output=True, text=True)
        assert f"LLM: {chunks} requests" in status.stdout

        before = server.total
        assert run_stage(NORMALIZE, path) == 0  # current
        assert run_stage(NORMALIZE, path, force=True) == 0  # redone from the response cache
        assert server.total == before
        assert outputs(path)[1].token_usage["cache_hits"] == chunks


def test_voice_guard_keeps_the_source_when_the_model_drifts(recipe):
    with FakeOpenAI(responder=lambda body: json.dumps({"text": "A short summary of the video."})) as server:
        path = recipe_for(recipe, server)
        assert run_stage(NORMALIZE, path) == 0
        _, manifest, records = outputs(path)
        chunk = records["vid1"].chunks[0]
        assert chunk.kept_source == "drift" and chunk.text == chunk.source and chunk.similarity < 0.55
        assert manifest.counts["chunks_kept_source_drift"] == sum(len(r.chunks) for r in records.values())


def test_meta_commentary_is_reasked_then_kept_as_source(recipe):
    with FakeOpenAI(responder=lambda body: json.dumps({"text": "Sure! I have cleaned the transcript."})) as server:
        path = recipe_for(recipe, server)
        assert run_stage(NORMALIZE, path) == 0
        _, manifest, records = outputs(path)
        chunks = sum(len(r.chunks) for r in records.values())
        assert manifest.counts["chunks_kept_source_unparsable"] == chunks
        assert server.total == 2 * chunks and manifest.token_usage["reasks"] == chunks


def test_thirty_percent_failures_still_complete_without_duplicates(recipe):
    with FakeOpenAI(fault_rate=0.3, timeout_sleep_s=2.5, retry_after="0") as server:
        path = recipe_for(recipe, server, max_chars=300, target_chars=150)
        code = run_stage(NORMALIZE, path)
        _, manifest, records = outputs(path)
        assert code == 0, RunDir.for_config(load_config(path)).log_file.read_text()[-2000:]
        assert sum(n for k, n in server.requests.items() if k != "ok") > 5
        chunks = [c for r in records.values() for c in r.chunks]
        reasons = {"unparsable", "drift", *TRANSIENT}
        assert all(c.kept_source is None or c.kept_source in reasons for c in chunks)
        assert all(c.text == c.source for c in chunks if c.kept_source)  # kept as spoken, never half-cleaned
        assert manifest.counts["chunks_cleaned"] + sum(
            n for k, n in manifest.counts.items() if k.startswith("chunks_kept_source_")) == len(chunks)
        lines = (outputs(path)[0] / "normalized.jsonl").read_text().splitlines()
        assert len(lines) == len({json.loads(line)["id"] for line in lines}) == 3


def test_killed_mid_stage_rerun_asks_only_what_was_not_answered(recipe, tmp_path):
    with FakeOpenAI(latency_s=0.3) as server:
        path = recipe_for(recipe, server, concurrency=2, max_chars=200, target_chars=100)
        script = str(Path(sys.executable).parent / "tube2lora-normalize")
        proc = subprocess.Popen([script, "--config", str(path)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        cache = tmp_path / "runs" / ".cache" / "llm" / "responses"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(cache.glob("*/*/entry.json"))) < 4:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        answered = len(list(cache.glob("*/*/entry.json")))
        assert answered >= 4 and outputs(path)[1] is None
        first_run = server.total
        assert run_stage(NORMALIZE, path) == 0
        _, manifest, records = outputs(path)
        chunks = sum(len(r.chunks) for r in records.values())
        assert answered < chunks
        assert server.total - first_run == chunks - answered
        assert manifest.token_usage["cache_hits"] == answered


def test_disabled_passes_transcripts_through(recipe):
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server, enabled=False)
        assert run_stage(NORMALIZE, path) == 0
        _, _, records = outputs(path)
        assert server.total == 0
        source = transcripts()[0]
        assert records["vid0"].text == source.text and records["vid0"].reason == "disabled"


def test_endpoint_down_fails_the_stage_with_one_line(recipe, capfd):
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server)
    # the server is gone now
    code = run_stage(NORMALIZE, path)
    err = capfd.readouterr().err
    assert code == 1 and "no chunk could be normalized: the LLM endpoint" in err and "Traceback" not in err


def test_a_dead_llm_server_is_named_in_one_line(recipe, capfd, monkeypatch, tmp_path):
    status = tmp_path / "llm-server.status.json"
    status.write_text(json.dumps({"what": "llama.cpp server (SmolLM2-135M-Instruct)", "pid": 4242, "returncode": -11,
                                  "signal": "SIGSEGV", "log": "/x/llm-server.log",
                                  "log_tail": ["llama_decode: starting", "Segmentation fault (core dumped)"]}))
    monkeypatch.setenv("TUBE2LORA_LLM_SERVER_STATUS", str(status))
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server)
    # the server is gone now, and its supervisor said how it died
    code = run_stage(NORMALIZE, path)
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "the LLM server process died" in line]
    assert code == 1 and len(lines) == 1 and "Traceback" not in err and outputs(path)[1] is None
    assert "(SIGSEGV, exit -11) during normalize" in lines[0] and "Segmentation fault (core dumped)" in lines[0]
    assert "no chunk could be normalized" not in err  # the stage stopped at once, not item by item


def test_llm_operational_settings_keep_the_run_and_its_finished_stages(recipe):
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server, concurrency=8)
        assert run_stage(NORMALIZE, path) == 0
        stage, manifest, _ = outputs(path)
        asked = server.total
        path = recipe_for(recipe, server, concurrency=2)  # the same recipe file, rewritten
        assert RunDir.for_config(load_config(path)).stage_dir("normalize") == stage
        assert run_stage(NORMALIZE, path) == 0
        assert outputs(path)[1].finished_at == manifest.finished_at and server.total == asked  # current


def test_estimate_spends_nothing(recipe, capfd):
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server)
        assert run_stage(NORMALIZE, path, estimate=True) == 0
        assert server.total == 0 and outputs(path)[1] is None
        assert "LLM call(s) to make" in capfd.readouterr().err


def test_unknown_placeholder_is_a_config_error(recipe, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsystem: x\nuser: '{transcript}'\n")
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server, prompt_file=str(bad))
        assert run_stage(NORMALIZE, path) == 2
        assert server.total == 0


def test_other_voices_are_kept_as_spoken_never_asked_and_left_out_of_the_creators_text(recipe):
    host = "So, uh, what is the one thing every rider should check?"
    segs = [Segment(start=0, end=4, text=host, speaker="S2", is_creator=False),
            *[Segment(start=4 + i * 5.0, end=8.5 + i * 5.0, speaker="S1", is_creator=True,
                      text=f"Um the the chain, part {i}, needs a drop of lube every week.") for i in range(3)],
            Segment(start=20, end=23, text="Great, thanks!", speaker="S2", is_creator=False)]
    interview = Transcript(id="talk", title="Talk", channel="Toby Fenwick", status="success", source="whisper",
                           language="en", segments=segs)
    with FakeOpenAI() as server:
        path = recipe(llm={"base_url": server.base_url, "model": "fake-model", "backoff_s": 0.01},
                      normalize={"prompt_file": str(PROMPT)})
        publish_records(path, "transcribe", "transcripts.jsonl", [interview])
        assert run_stage(NORMALIZE, path) == 0
        _, manifest, records = outputs(path)
    record = records["talk"]
    assert [(c.speaker, c.is_creator, c.kept_source) for c in record.chunks] == [
        ("S2", False, "other_speaker"), ("S1", True, None), ("S2", False, "other_speaker")]
    assert record.chunks[0].text == host and server.total == 1  # only the creator's chunk was asked (the host's
    # question may be shown before it as context, never to be rewritten)
    assert "part 2" in record.text and "every rider" not in record.text and "thanks" not in record.text
    assert manifest.counts["chunks_kept_source_other_speaker"] == 2
