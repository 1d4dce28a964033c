"""The equivalence check against the real llama.cpp (tier `llm`): the demo's trained SmolLM2 adapter, exported to
GGUF and loaded by llama.cpp over the demo's Q4_1 base, moves the model as PEFT does on the held-out videos; and a
GGUF adapter converted wrongly (q/k rows left in Hugging Face's order) fails the stage.

Runs on a copy of the demo run's generate and train stages (so the demo run is never written); trains the demo
first (`make train CONFIG=configs/demo.yaml`, about 10 minutes on 2 cores) when it has not been.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from urllib.request import Request, urlopen

import pytest
import yaml
from harness import REPO

from tube2lora_demo.llama_server import free_port
from tube2lora_export import gguf_lora
from tube2lora_export.run import commands
from tube2lora_export.cli import SPEC as EXPORT
from tube2lora_export.summary import lines as summary_lines
from tube2lora_shared.config import load_config
from tube2lora_shared.documents import ExportedAdapter
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.rundir import RunDir

pytestmark = pytest.mark.llm

DEMO = REPO / "configs" / "demo.yaml"


def copy_demo(tmp_path):
    """A recipe with the demo's content (so the same run identity) whose run holds the demo's generate and train."""
    demo_config = load_config(DEMO)
    demo = RunDir.for_config(demo_config)
    if read_manifest(demo.stage_dir("train")) is None:
        done = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "train", f"CONFIG={DEMO}"],
                              capture_output=True, text=True, timeout=2400)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shutil.copytree(REPO / "configs" / "prompts", tmp_path / "prompts")
    recipe = yaml.safe_load(DEMO.read_text())
    recipe["paths"] = {"runs_dir": str(tmp_path / "runs"), "cache_dir": str(demo_config.cache_dir)}  # the built base
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    run = RunDir.for_config(load_config(path))
    assert run.id == demo.id
    for part in ("stages/generate", "stages/train", "artifacts/train"):
        shutil.copytree(demo.root / part, run.root / part)
    return path, run


@pytest.fixture(scope="module")
def exported_demo(tmp_path_factory):
    """The export stage run once on a copy of the demo: (its run, its exit code)."""
    path, run = copy_demo(tmp_path_factory.mktemp("demo"))
    return run, run_stage(EXPORT, path)


def test_llama_cpp_with_the_gguf_adapter_moves_the_model_as_peft_does(exported_demo):
    run, exit_code = exported_demo
    assert exit_code == 0
    exported = ExportedAdapter.read(run.stage_dir("export"))
    check = exported.check
    assert check["ratio_ok"] and check["agreement_ok"] and check["tokens"] >= 256
    assert abs(check["ratio"]["llama_cpp"] / check["ratio"]["peft"] - 1) <= 0.05
    assert check["ratio"]["llama_cpp"] < 0.95 and check["ratio"]["peft"] < 0.95  # the adapter does move the model
    # no lower with the adapter than without, beyond the noise of counting it on these tokens (equivalence.py)
    assert check["top1_agreement"]["adapter"] >= check["top1_agreement"]["base"] - check["agreement_margin"]
    assert 0 < check["agreement_margin"] < 0.03
    assert exported.base_gguf.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    shown = "\n".join(summary_lines(run, read_manifest(run.stage_dir("export"))))
    assert f"llama.cpp x{check['ratio']['llama_cpp']:.3f} vs PEFT x{check['ratio']['peft']:.3f}" in shown
    assert f"--lora {run.root / exported.gguf_path}" in shown
    card = (run.root / exported.adapter_path / "README.md").read_text()
    peft = check["perplexity"]["peft"]
    assert (f"held-out transcript perplexity, base {peft['base']:.2f} -> adapter {peft['adapter']:.2f} "
            f"(x{check['ratio']['peft']:.3f}); llama.cpp with the GGUF adapter x{check['ratio']['llama_cpp']:.3f}") in card
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card
    modelfile = (run.root / exported.modelfile_path).read_text()
    assert f"\nFROM {exported.base_gguf}\nADAPTER ./adapter.gguf\n" in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and 'SYSTEM """You are Toby Fenwick.' in modelfile


def qk_only(adapter, strength: float) -> None:
    """The adapter's q_proj/k_proj deltas alone, `strength` times as strong (every other lora_B zeroed)."""
    import torch
    from safetensors.torch import load_file, save_file

    weights = load_file(str(adapter / "adapter_model.safetensors"))
    for name, value in weights.items():
        if "lora_B" in name:
            weights[name] = value * strength if ("q_proj" in name or "k_proj" in name) else torch.zeros_like(value)
    save_file(weights, str(adapter / "adapter_model.safetensors"))


def test_a_wrongly_converted_adapter_fails_the_check(tmp_path, monkeypatch):
    """Without convert_hf_to_gguf.py's q/k row order, llama.cpp applies the q and k deltas to the wrong rows. How much
    that shows depends on how much the q/k deltas move the model: on one clean clone's demo adapter they hardly did
    (the wrong order: ratio +0.8%, agreement 94.4% vs 95.9%, within the check's noise). So the adapter here is the
    demo's q/k deltas alone, four times as strong (measured: the right order x0.893 both sides, agreement 96.4%;
    the wrong one 13.9% apart, agreement 76%): the right order passes, the wrong one fails the stage."""
    path, run = copy_demo(tmp_path)
    adapter = run.artifacts_dir("train") / "adapter"
    qk_only(adapter, 4.0)
    trained = {p.name: p.read_bytes() for p in adapter.iterdir()}
    assert run_stage(EXPORT, path) == 0  # the right order: the check passes
    shutil.rmtree(run.stage_dir("export"))
    shutil.rmtree(run.artifacts_dir("export"))
    monkeypatch.setitem(gguf_lora.ARCHITECTURES, "LlamaForCausalLM", gguf_lora.Layout("llama", False))
    assert run_stage(EXPORT, path) == 1
    assert read_manifest(run.stage_dir("export")) is None and not run.artifacts_dir("export").exists()
    assert {p.name: p.read_bytes() for p in adapter.iterdir()} == trained
    log = (run.log_file).read_text()
    assert ("the GGUF adapter is not trustworthy, the PEFT adapter is kept" in log
            or "the GGUF adapter does not act as the PEFT one; the PEFT adapter is kept" in log)


def test_the_printed_llama_cpp_python_command_serves_the_adapter(exported_demo):
    """The summary's llama-cpp-python line, run as printed (on a free port): the server loads the GGUF adapter and
    answers a chat with the persona."""
    run, exit_code = exported_demo
    assert exit_code == 0
    exported = ExportedAdapter.read(run.stage_dir("export"))
    argv = shlex.split(commands(exported, run.root)["llama_cpp_python"])
    port = free_port()
    argv[argv.index("--port") + 1] = str(port)
    log = run.root / "logs" / "llama-cpp-python.log"
    with log.open("w") as out:
        server = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        for _ in range(120):
            try:
                with urlopen(f"{url}/models", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, log.read_text()[-2000:]
                time.sleep(0.5)
        body = {"messages": [{"role": "system", "content": "You are Toby Fenwick."},
                             {"role": "user", "content": "How often should I oil my chain?"}],
                "max_tokens": 16, "temperature": 0}
        request = Request(f"{url}/chat/completions", data=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"})
        with urlopen(request, timeout=120) as answer:
            reply = json.load(answer)["choices"][0]["message"]["content"]
        assert reply.strip()
        import gguf

        tensors = len(gguf.GGUFReader(run.root / exported.gguf_path).tensors)  # 30 layers x 7 projections x A, B
        assert tensors == 420 and f"loaded {tensors} tensors from lora file" in log.read_text()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
