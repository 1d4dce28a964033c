"""The GPU tier (`make test-gpu`, marker `gpu`): the CUDA paths, run for real where a GPU is.

- faster-whisper on CUDA in float16 (the packaged tiny.en) against the same clip on the CPU: same words, and the
  real-time factor;
- LoRA in bf16 and QLoRA (4-bit NF4) training of SmolLM2-135M through the train stage: steps/s, peak memory, the
  loss going down; the QLoRA run's adapter read back by evaluate (4-bit, as trained);
- the merge on the GPU in the base's dtype, checked against base + adapter;
- two processes under torchrun (DDP) when the machine has two GPUs.

Every figure is printed as a `gpu:` line (`make test-gpu` runs pytest with -s) and, when TUBE2LORA_GPU_REPORT names
a file, appended to it as JSON lines. Without a GPU every test here skips with one line saying so.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stages.evaluate.test_evaluate import PERSONA, passages, publish_generate

from tube2lora_evaluate.cli import SPEC as EVALUATE
from tube2lora_shared.config import load_config
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.rundir import RunDir
from tube2lora_train.cli import SPEC as TRAIN

pytestmark = pytest.mark.gpu

SMOLLM2 = {"base_model": "builtin:smollm2-135m-instruct", "tokenizer": "auto", "lora_r": 8, "lora_alpha": 16,
           "learning_rate": 1e-3, "per_device_train_batch_size": 4, "logging_steps": 1, "eval_steps": 10,
           "eval_share": 0.2, "early_stopping_patience": 0, "device": "cuda"}
GENERATED = {"creator": "Toby Fenwick", "persona": PERSONA, "videos": [f"vid{v}" for v in range(5)], "generators": {}}


def report(name: str, **figures) -> None:
    print(f"\ngpu: {name}: " + ", ".join(f"{k} {v}" for k, v in figures.items()), flush=True)
    target = os.environ.get("TUBE2LORA_GPU_REPORT")
    if target:
        with open(target, "a") as out:
            out.write(json.dumps({"test": name, **figures}) + "\n")


def device_name() -> str:
    import torch

    return torch.cuda.get_device_name(0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """SmolLM2 trained 30 steps in bf16 and 30 steps as QLoRA on the same data: {"bf16": path, "qlora": path}."""
    import torch

    recipes = {}
    for kind, extra in (("bf16", {"merge": True}), ("qlora", {"load_in_4bit": True})):
        directory = tmp_path_factory.mktemp(kind)
        path = directory / "recipe.yaml"
        path.write_text(json.dumps({"paths": {"runs_dir": str(directory / "runs")},
                                    "train": {**SMOLLM2, "max_steps": 30, **extra},
                                    "evaluate": {"max_new_tokens": 24, "samples": 2, "device": "cuda"}}))
        publish_generate(path, passages(5), [], GENERATED)
        torch.cuda.reset_peak_memory_stats()
        started = time.monotonic()
        assert run_stage(TRAIN, path) == 0
        seconds = time.monotonic() - started
        metrics = json.loads((RunDir.for_config(load_config(path)).stage_dir("train") /
                              "training_metrics.json").read_text())
        assert metrics["device"] == "cuda" and metrics["dtype"] in ("bfloat16", "float16")
        assert metrics["train_losses"][-1] < metrics["train_losses"][0]
        report(f"train {kind} SmolLM2-135M", device=device_name(), steps=metrics["steps"],
               steps_per_s=round(metrics["steps"] / metrics["seconds"], 2), tokens_per_s=metrics["tokens_per_second"],
               peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2), stage_s=round(seconds, 1),
               loss=f"{metrics['train_losses'][0]:.3f} -> {metrics['train_losses'][-1]:.3f}")
        recipes[kind] = path
    return recipes


def test_faster_whisper_on_cuda_float16_hears_what_the_cpu_hears(sample_channel):
    import jiwer
    from faster_whisper import WhisperModel

    from tube2lora_transcribe.whisper import offline_model_dir

    clip = sample_channel.media_dir / "ep04-gear-indexing.opus"
    texts, seconds = {}, {}
    for device, compute in (("cuda", "float16"), ("cpu", "int8")):
        model = WhisperModel(str(offline_model_dir()), device=device, compute_type=compute)
        started = time.monotonic()
        segments, info = model.transcribe(str(clip), beam_size=5)
        texts[device] = " ".join(s.text.strip() for s in segments)
        seconds[device] = time.monotonic() - started
    assert texts["cuda"] and jiwer.wer(texts["cpu"].lower(), texts["cuda"].lower()) < 0.15
    report("faster-whisper tiny.en", device=device_name(), audio_s=round(info.duration, 1),
           cuda_float16_rtf=round(info.duration / seconds["cuda"], 1), cpu_int8_rtf=round(info.duration / seconds["cpu"], 1))


def test_lora_bf16_trains_on_the_gpu_and_merges_there_in_the_base_dtype(trained):
    run = RunDir.for_config(load_config(trained["bf16"]))
    check = json.loads((run.stage_dir("train") / "training_metrics.json").read_text())["merge_check"]
    assert check["ok"] and check["device"] == "cuda" and check["compared_in"] in ("bfloat16", "float16")
    assert (run.artifacts_dir("train") / "merged" / "model.safetensors").exists()
    report("merge bf16", max_abs_logit_diff=f"{check['max_abs_logit_diff']:.3g}", tolerance=f"{check['tolerance']:.3g}",
           saved=check["dtype"])


def test_evaluate_reads_the_qlora_adapter_back_in_4bit(trained):
    import torch

    path = trained["qlora"]
    decided = json.loads((RunDir.for_config(load_config(path)).stage_dir("train") / "adapter.json").read_text())
    assert decided["load_in_4bit"] is True
    torch.cuda.reset_peak_memory_stats()
    started = time.monotonic()
    assert run_stage(EVALUATE, path) == 0
    evaluation = json.loads((RunDir.for_config(load_config(path)).stage_dir("evaluate") / "evaluation.json")
                            .read_text())
    ppl = evaluation["perplexity"]["transcripts"]
    assert ppl["base"] > 0 and ppl["adapter"] > 0 and ppl["adapter"] != ppl["base"]
    report("evaluate QLoRA adapter", seconds=round(time.monotonic() - started, 1),
           peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2),
           held_out_ppl=f"{ppl['base']} -> {ppl['adapter']}")


def test_two_processes_under_torchrun_each_on_its_own_gpu(tmp_path):
    import torch

    if torch.cuda.device_count() < 2:
        pytest.skip(f"DDP needs two GPUs; this machine has {torch.cuda.device_count()}")
    path = tmp_path / "recipe.yaml"
    path.write_text(json.dumps({"paths": {"runs_dir": str(tmp_path / "runs")},
                                "train": {**SMOLLM2, "max_steps": 10, "load_in_4bit": True}}))
    publish_generate(path, passages(5), [], GENERATED)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bin_dir = Path(sys.executable).parent
    started = time.monotonic()
    done = subprocess.run([str(bin_dir / "torchrun"), "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
                           "--master_port", str(port), str(bin_dir / "tube2lora-train"), "--config", str(path)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((RunDir.for_config(load_config(path)).stage_dir("train") / "training_metrics.json")
                         .read_text())
    assert metrics["world_size"] == 2 and metrics["device"] == "cuda"
    report("train QLoRA DDP x2", steps=metrics["steps"], seconds=round(time.monotonic() - started, 1))
