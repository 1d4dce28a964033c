"""A base model with its trained LoRA adapter, for the stages that read the adapter back (evaluate, export's chat):
loaded once as train loaded the base, answered with or without the adapter from the same weights.

    model = load_adapted(base_model, adapter_dir)
    ids = generate(model, prompt_ids, Decoding(96, temperature=0.7, top_p=0.9, repetition_penalty=1.1), True, eos)
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from .loading import Placement, load_base, placement


@dataclass(frozen=True)
class Decoding:
    """How an answer is written: temperature 0 is greedy; otherwise sampled from `seed`, the same for base and
    adapter, so the two answers differ by the weights only."""

    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int = 0


def load_adapted(base_model: str, adapter: str, load_in_4bit: bool = False, where: Placement | None = None):
    """PEFT's model of the base with the adapter, in eval mode, loaded as train loaded it (loading.py): on this
    process's GPU in bf16 (fp16 without bf16), 4-bit when train trained on 4-bit weights; else on the CPU in fp32."""
    from peft import PeftModel

    base = load_base(base_model, where or placement(), load_in_4bit, purpose="the base model")
    return PeftModel.from_pretrained(base, adapter).eval()


def adapter_mode(model, adapter: bool):
    """A context in which `model` answers with its adapter (adapter=True) or as the plain base."""
    return nullcontext() if adapter else model.disable_adapter()


def generate(model, prompt: list[int], decoding: Decoding, adapter: bool, eos_id: int, streamer: Any = None
             ) -> list[int]:
    """The answer's token ids after `prompt` (streamed to `streamer` too, when given)."""
    import torch

    sampled = decoding.temperature > 0
    options = {"do_sample": sampled, "repetition_penalty": decoding.repetition_penalty,
               **({"temperature": decoding.temperature, "top_p": decoding.top_p} if sampled else {})}
    with torch.no_grad(), adapter_mode(model, adapter):
        torch.manual_seed(decoding.seed)
        x = torch.tensor([prompt], device=model.device)
        out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=decoding.max_tokens,
                             eos_token_id=eos_id, pad_token_id=eos_id, streamer=streamer, **options)
    return out[0, len(prompt):].tolist()
