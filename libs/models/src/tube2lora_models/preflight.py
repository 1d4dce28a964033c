"""The preflight of the stages that run a model through torch (train, evaluate): which device this process will
use, its memory, the NVIDIA driver and the CUDA version torch was built for, logged before any model is loaded; and
a model too large for the CPU refused there with the reason the GPU is not used (no GPU, or a driver too old for
this torch's CUDA) instead of a silent day of fp32 training.

    where = preflight("train", base_model, cfg.device, cfg.cpu_max_params, log)
"""

from __future__ import annotations

import logging

from tube2lora_shared.errors import UsageError
from tube2lora_shared.nvidia import nvidia_driver

from .loading import Placement, placement

def why_no_gpu() -> str:
    """Why torch sees no usable GPU on this machine, in words."""
    import torch

    driver = nvidia_driver()
    if torch.version.cuda is None:
        return f"this torch ({torch.__version__}) is a CPU-only build"
    if driver:
        return (f"the NVIDIA driver {driver} does not run this torch's CUDA {torch.version.cuda} (torch "
                f"{torch.__version__}): update the driver, or install a torch build for the CUDA version the driver "
                "supports (nvidia-smi shows it)")
    return "no NVIDIA GPU or driver was found"


def parameter_count(base_model: str) -> int | None:
    """The model's parameter count from its config (built on the meta device: nothing loaded), or None when the
    config cannot be read here."""
    import torch
    from transformers import AutoConfig, AutoModel

    try:
        config = AutoConfig.from_pretrained(base_model)
        with torch.device("meta"):
            model = AutoModel.from_config(config)
    except Exception:  # noqa: BLE001 - an unreadable config is reported when the model itself is loaded
        return None
    return sum(p.numel() for p in model.parameters())


def preflight(stage: str, base_model: str, device: str, cpu_max_params: int, log: logging.Logger) -> Placement:
    """The placement this process will use (see loading.placement), checked and logged."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"{stage}.device: cuda, but torch sees no usable GPU: {why_no_gpu()}")
    where = placement(use_cpu=device == "cpu")
    if where.device == "cuda":
        props = torch.cuda.get_device_properties(where.local_rank)
        log.info("%s preflight: cuda:%d %s (%.1f GiB), NVIDIA driver %s, torch %s with CUDA %s, %s", stage,
                 where.local_rank, props.name, props.total_memory / 2**30, nvidia_driver() or "unknown",
                 torch.__version__, torch.version.cuda, where.dtype_name)
        return where
    params = parameter_count(base_model)
    reason = "as configured" if device == "cpu" else why_no_gpu()
    if params is not None and params > cpu_max_params and device != "cpu":
        raise UsageError(f"{stage}: the base model has {params / 1e9:.1f} B parameters, more than "
                         f"{stage}.cpu_max_params ({cpu_max_params / 1e9:g} B) allows on the CPU, and there is no GPU: "
                         f"{reason}; set {stage}.device: cpu to run it on the CPU anyway (slow: fp32)")
    log.info("%s preflight: CPU (%s), float32, %s parameters", stage, reason,
             f"{params / 1e6:.1f} M" if params is not None else "unknown")
    return where
