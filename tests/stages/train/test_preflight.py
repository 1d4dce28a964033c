"""The preflight of train and evaluate: the device used, logged; a model too large for the CPU refused with the
reason the GPU is not used, unless `device: cpu` says so; `device: cuda` without a usable GPU, one line."""

from __future__ import annotations

import logging

import pytest
from generate_dir import passages, publish_generate

from tube2lora_models import preflight
from tube2lora_shared import nvidia
from tube2lora_shared.config import load_config
from tube2lora_shared.errors import UsageError
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.rundir import RunDir
from tube2lora_train.cli import SPEC as TRAIN

TINY = {"tokenizer": "mistral:v3", "lora_r": 4, "max_steps": 1, "eval_share": 0}


def test_a_model_too_large_for_the_cpu_is_refused_with_the_reason_unless_device_cpu(recipe, tiny_mistral):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the CPU refusal cannot happen here")
    refused = recipe("refused.yaml", train={"base_model": str(tiny_mistral), **TINY, "cpu_max_params": 1000})
    publish_generate(refused, passages(2, 1))
    assert run_stage(TRAIN, refused) == 2
    log = RunDir.for_config(load_config(refused)).log_file.read_text()
    assert ("train: the base model has 0.0 B parameters, more than train.cpu_max_params (1e-06 B) allows on the "
            "CPU, and there is no GPU: ") in log and "set train.device: cpu to run it on the CPU anyway" in log

    allowed = recipe("allowed.yaml", train={"base_model": str(tiny_mistral), **TINY, "cpu_max_params": 1000,
                                            "device": "cpu"})
    publish_generate(allowed, passages(2, 1))
    assert run_stage(TRAIN, allowed) == 0
    log = RunDir.for_config(load_config(allowed)).log_file.read_text()
    assert "train preflight: CPU (as configured), float32, 2.2 M parameters" in log  # 32768 x 64 embeddings and more


def test_device_cuda_without_a_gpu_is_one_line(tiny_mistral):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(UsageError, match=r"^evaluate.device: cuda, but torch sees no usable GPU: "):
        preflight.preflight("evaluate", str(tiny_mistral), "cuda", 10**9, logging.getLogger("test"))


def test_an_old_driver_is_named_with_the_cuda_version_torch_needs(tmp_path, monkeypatch):
    import torch

    if torch.version.cuda is None:
        pytest.skip("a CPU-only torch build")
    version = tmp_path / "version"
    version.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.82.01  Wed Oct 27 21:21:55 UTC 2021\n"
                       "GCC version:  gcc version 9.3.0\n")
    monkeypatch.setattr(nvidia, "DRIVER_FILE", version)
    assert nvidia.nvidia_driver() == "470.82.01"
    assert preflight.why_no_gpu().startswith(f"the NVIDIA driver 470.82.01 does not run this torch's CUDA "
                                             f"{torch.version.cuda}")
    monkeypatch.setattr(nvidia, "DRIVER_FILE", tmp_path / "absent")
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi either
    assert nvidia.nvidia_driver() is None and preflight.why_no_gpu() == "no NVIDIA GPU or driver was found"
