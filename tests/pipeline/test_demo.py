"""The README's first command, `make demo`, against the real llama.cpp server (tier `llm`).

`.ci/run` runs `make demo` first, so here it is usually the quick second run; on its own this test
does the whole first run (about 10 minutes on 2 cores). Then it forces the two LLM stages to run
again and checks they ask the server nothing: every answer comes from the response cache.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from harness import REPO

from tube2lora_demo.llama_server import MODEL_ALIAS, serves
from tube2lora_shared.config import load_config
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.rundir import RunDir

pytestmark = pytest.mark.llm

DEMO = REPO / "configs" / "demo.yaml"


def make(*args: str, timeout: int = 2400) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args], capture_output=True, text=True,
                          timeout=timeout)


def test_demo_reports_base_against_adapter_and_reruns_for_free():
    first = make("demo")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    run = RunDir.for_config(load_config(DEMO))
    report = run.stage_dir("evaluate") / "report.html"
    assert re.search(rf"report\s+{re.escape(os.path.relpath(report, REPO))}", first.stdout)
    evaluation = json.loads((run.stage_dir("evaluate") / "evaluation.json").read_text())
    for text in ("transcripts", "answers"):
        pair = evaluation["perplexity"][text]
        assert pair["base"] > 1 and pair["adapter"] > 1 and pair["base"] != pair["adapter"]
        assert f"base {pair['base']:.4g} -> adapter {pair['adapter']:.4g}" in first.stdout
    assert evaluation["base_model"] == "builtin:smollm2-135m-instruct"

    datasets = json.loads((run.stage_dir("generate") / "dataset_manifest.json").read_text())["generators"]
    own = datasets["own_words"]
    assert own["accepted"] >= 4, "too few of Toby's passages got a question that passed the gates"
    assert f"examples   own_words: {own['accepted']} of {own['attempted']} accepted" in first.stdout
    # issue 13 through llama.cpp: every own_words answer is Toby's kept text word for word, whatever SmolLM2 asked,
    # and the sentence the filter cut as boilerplate is in no training row of the videos it was cut from
    kept = {r["id"]: r["text"] for r in map(json.loads, (run.stage_dir("filter") / "kept.jsonl").open())}
    answers = [(r["provenance"]["video_id"], r["messages"][-1]["content"]) for r in
               map(json.loads, (run.stage_dir("generate") / "own_words" / "dataset_messages.jsonl").open())]
    monologue = [(r["video_id"], r["text"]) for r in map(json.loads, (run.stage_dir("generate") / "passages.jsonl").open())]
    assert len(answers) == own["accepted"] and all(text in kept[video] for video, text in answers + monologue)
    cuts = [json.loads(line) for line in (run.stage_dir("filter") / "boilerplate.jsonl").open()]
    assert cuts and cuts[0]["removed_from"], "the demo's filter cut no boilerplate: the check below would be empty"
    for cut in cuts:
        assert not any(cut["sentence"] in text for video, text in answers + monologue if video in cut["removed_from"])
    page = report.read_text()
    for name, generated in datasets.items():  # the report counts every rejection, by reason
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(generated["rejected"].items(), key=lambda kv: (-kv[1], kv[0])))
        assert f"<td>{name}</td><td>{generated['attempted']}</td><td>{generated['accepted']}</td>" \
               f"<td>{reasons or 'none'}</td>" in page
    assert (run.artifacts_dir("train") / "adapter" / "adapter_model.safetensors").exists()
    usage = read_manifest(run.stage_dir("normalize")).token_usage  # asked now, or answered from a warm cache
    assert usage.get("requests", 0) + usage.get("cache_hits", 0) >= 19  # the demo's 19 chunks
    assert '"model":"smollm2-135m-instruct"' in (run.stage_dir("normalize") / "normalized.jsonl").read_text()

    asked = first.stdout[first.stdout.index("held-out question (from "):]  # the end: tube2lora chat --ask-held-out
    assert "llama.cpp: SmolLM2-135M-Instruct.Q4_1.gguf + adapter.gguf" in asked
    assert re.search(r"\n  [\w-]+> \S.*?\n  base model> .*?\n  Toby Fenwick, really> \S", asked, re.S)

    second = make("demo", timeout=300)
    assert second.returncode == 0 and "is current; nothing to do" in second.stdout
    assert "Toby Fenwick, really> " in second.stdout  # asked again, without the LLM server
    assert "llama.cpp server" not in second.stderr  # not even started

    forced = make("normalize", "generate", f"CONFIG={DEMO}", "FORCE=1", timeout=600)
    assert forced.returncode == 0, forced.stderr[-3000:]
    for stage in ("normalize", "generate"):
        usage = read_manifest(run.stage_dir(stage)).token_usage
        assert usage.get("requests", 0) == 0 and usage["cache_hits"] > 0, (stage, usage)


def test_the_llm_server_stops_when_the_command_is_interrupted(tmp_path):
    """tube2lora-demo serve starts llama.cpp for a command and stops it on SIGTERM (as on Ctrl-C or failure)."""
    url_file = tmp_path / "url"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"paths": {"runs_dir": str(tmp_path / "runs")},
                                      "llm": {"base_url_env": "T2L_URL", "model": MODEL_ALIAS}}))
    child = f"import os, time; open({str(url_file)!r}, 'w').write(os.environ['T2L_URL']); time.sleep(600)"
    env = {k: v for k, v in os.environ.items() if k != "T2L_URL"}
    serve = subprocess.Popen([str(Path(sys.executable).parent / "tube2lora-demo"), "serve", "--config", str(recipe),
                              "--llm", "--", sys.executable, "-c", child], env=env)
    deadline = time.monotonic() + 120
    while not (url_file.exists() and url_file.read_text()):
        assert serve.poll() is None and time.monotonic() < deadline, "the server did not come up"
        time.sleep(0.5)
    url = url_file.read_text()
    assert serves(url)
    serve.send_signal(signal.SIGTERM)
    serve.wait(timeout=60)
    assert not serves(url)
