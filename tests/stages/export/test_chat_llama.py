"""`tube2lora chat` through the real llama.cpp (tier `llm`) with the demo's adapter exported to GGUF: in a
pseudo-terminal, the adapter's answer and /base's are exactly what llama.cpp writes with the GGUF adapter loaded and
with no adapter at all (computed here without the chat code, so /base truly removes the adapter); `--ask-held-out`
(what `make demo` ends with); and a llama.cpp process that dies mid-session ends the chat with one line.

Runs on a copy of the demo run (test_equivalence_llama.copy_demo), exported once here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from stages.export.terminal import Terminal, ask_and_compare
from stages.export.test_equivalence_llama import copy_demo

from tube2lora_export.chat import held_out_question
from tube2lora_export.cli import SPEC as EXPORT
from tube2lora_export.llamacpp import interpreter
from tube2lora_shared.documents import DatasetManifest, ExportedAdapter
from tube2lora_shared.lifecycle import run_stage

pytestmark = pytest.mark.llm

TUBE2LORA = str(Path(sys.executable).with_name("tube2lora"))
QUESTION = "How do you get a chain really clean?"
TOKENS = 40
DIRECT = """
import json, os, sys
from llama_cpp import Llama
request = json.load(sys.stdin)
llm = Llama(model_path=request["model"], lora_path=request["lora"], n_ctx=2048, n_threads=min(4, os.cpu_count() or 1),
            seed=0, verbose=False)
out = llm.create_chat_completion(request["messages"], max_tokens=request["tokens"], temperature=0, top_p=0.9,
                                 repeat_penalty=1.1, seed=0)
print(json.dumps(out["choices"][0]["message"]["content"]))
"""


@pytest.fixture(scope="module")
def exported_demo(tmp_path_factory):
    path, run = copy_demo(tmp_path_factory.mktemp("demo"))
    assert run_stage(EXPORT, path) == 0
    return path, run, ExportedAdapter.read(run.stage_dir("export"))


def direct(base: str, lora: Path | None, messages: list[dict]) -> str:
    """llama.cpp's greedy answer, loaded with or without the GGUF adapter, outside the chat code."""
    request = json.dumps({"model": base, "lora": str(lora) if lora else None, "messages": messages, "tokens": TOKENS})
    done = subprocess.run([interpreter(None), "-c", DIRECT], input=request, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout).strip()


def test_a_scripted_session_through_llama_cpp(exported_demo):
    path, run, document = exported_demo
    persona = DatasetManifest.read(run.stage_dir("generate")).persona
    asked = [{"role": "system", "content": persona}, {"role": "user", "content": QUESTION}]
    want_adapter = direct(document.base_gguf, run.root / document.gguf_path, asked)
    want_base = direct(document.base_gguf, None, asked)
    assert want_adapter and want_base and want_adapter != want_base

    terminal = Terminal([TUBE2LORA, "chat", "--config", str(path), "--temperature", "0", "--max-tokens", str(TOKENS)])
    header = terminal.expect("you> ")
    assert "llama.cpp: SmolLM2-135M-Instruct.Q4_1.gguf + adapter.gguf" in header and f"persona: {persona}" in header
    ask_and_compare(terminal, QUESTION, document.name, want_adapter, want_base)


def test_ask_held_out_through_llama_cpp(exported_demo):
    path, run, document = exported_demo
    done = subprocess.run([TUBE2LORA, "chat", "--config", str(path), "--ask-held-out"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    header, rest = done.stdout.split("\n", 1)
    assert header.startswith('held-out question (from "') and "llama.cpp: SmolLM2-135M-Instruct.Q4_1.gguf" in header
    # sampled answers may run over several lines: split on the speakers, in the order they must come
    question, rest = rest.split(f"\n  {document.name}> ", 1)
    adapter, rest = rest.split("\n  base model> ", 1)
    base, real = rest.split("\n  Toby Fenwick, really> ", 1)
    held_out = held_out_question(run)
    asked = [m["content"] for m in held_out.messages if m["role"] == "user"][-1]
    said = [m["content"] for m in held_out.messages if m["role"] == "assistant"][-1]
    assert question.strip() == asked.strip() and real.strip() == said.strip()
    assert len(adapter.strip()) > 15 and base.strip() and adapter != base


def test_a_dying_llama_cpp_process_ends_the_chat_in_one_line(exported_demo):
    path, _, _ = exported_demo
    terminal = Terminal([TUBE2LORA, "chat", "--config", str(path), "--max-tokens", "8"])
    terminal.expect("you> ")
    pid = terminal.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1  # the chat worker
    os.kill(int(children[0]), signal.SIGKILL)
    terminal.send(QUESTION)
    shown = terminal.expect("\n", timeout=60) + terminal.expect("\n", timeout=60)
    assert terminal.wait() == 1
    assert "error: the llama.cpp chat process (SmolLM2-135M-Instruct.Q4_1.gguf + adapter.gguf) died with exit -9" \
        in terminal.output, shown
    assert "Traceback" not in terminal.output
