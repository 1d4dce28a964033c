"""Loading a base model the way train trains it, on the devices this process has.

- dtype: bf16 on a GPU that has it, fp16 on one that does not, fp32 on the CPU.
- placement: with CUDA, each process loads straight onto its own GPU (`device_map={"": LOCAL_RANK}`), so under
  torchrun every rank gets its own device (bitsandbytes would otherwise put every rank's 4-bit model on cuda:0)
  and the weights never sit whole in host memory first. Under FSDP (accelerate sets `ACCELERATE_USE_FSDP`) there
  is no device map: FSDP places and shards the model itself, and 4-bit weights are stored in the compute dtype so
  it can shard them.
- `load_in_4bit`: QLoRA's NF4 weights with the compute dtype (bitsandbytes, CUDA only).
- Mistral 3 (`Mistral3ForConditionalGeneration`: Ministral 3, Mistral Small 3.1 and later) is an image-text-to-text
  model that `AutoModelForCausalLM` cannot load: it is loaded as what it is, fed text only, and LoRA goes on its
  language model's projections only (`lora_targets`), never on the vision tower or the projector.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tube2lora_shared.errors import StageError, UsageError

MULTIMODAL_TEXT = {"mistral3"}  # model types whose language model is trained text-only


@dataclass(frozen=True)
class Placement:
    device: str  # "cuda" or "cpu"
    dtype: object  # torch.dtype
    local_rank: int = 0
    fsdp: bool = False

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).replace("torch.", "")


def placement(use_cpu: bool = False) -> Placement:
    """Where this process puts a model: its own GPU when CUDA works (and `use_cpu` does not say otherwise)."""
    import torch

    if use_cpu or not torch.cuda.is_available():
        return Placement("cpu", torch.float32)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    fsdp = os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")
    return Placement("cuda", dtype, int(os.environ.get("LOCAL_RANK", "0")), fsdp)


def model_type(base_model: str) -> str:
    from transformers import AutoConfig

    return getattr(AutoConfig.from_pretrained(base_model), "model_type", "")


def load_base(base_model: str, where: Placement, load_in_4bit: bool = False, *, purpose: str = "train.base_model"):
    """The base model in `where`'s dtype on its device (4-bit NF4 weights with `load_in_4bit`)."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    if load_in_4bit and where.device != "cuda":
        raise UsageError("train.load_in_4bit: QLoRA needs a CUDA GPU (bitsandbytes); this machine has none. "
                         "Set it to false to train in full precision on CPU")
    options: dict = {"dtype": where.dtype}
    if where.device == "cuda" and not where.fsdp:
        options["device_map"] = {"": where.local_rank}
    if load_in_4bit:
        from transformers import BitsAndBytesConfig

        options["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=where.dtype,
            **({"bnb_4bit_quant_storage": where.dtype} if where.fsdp else {}))
    try:
        kind = model_type(base_model)
        loader = AutoModelForImageTextToText if kind in MULTIMODAL_TEXT else AutoModelForCausalLM
        return loader.from_pretrained(base_model, **options)
    except OSError as exc:
        raise StageError(f"{purpose} {base_model!r} could not be loaded ({str(exc).splitlines()[0]}); use a local "
                         "model directory or a reachable hub id") from None


def lora_targets(model, wanted: list[str]) -> tuple[list[str], list[str] | str]:
    """(the wanted projection names the model has, what PEFT's target_modules gets): the names themselves, or for a
    multimodal model a pattern that matches them inside its language model only (PEFT full-matches a string)."""
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [m for m in wanted if m in present]
    if not targets:
        raise UsageError(f"train.lora_target_modules: none of {wanted} exist in the base model")
    if getattr(model.config, "model_type", "") in MULTIMODAL_TEXT:
        return targets, rf".*language_model.*\.({'|'.join(targets)})"
    return targets, targets
