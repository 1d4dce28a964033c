"""Perplexity and generation with base and base + adapter (one PeftModel; the base is the adapter disabled)."""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass


def load(base_model: str, adapter: str):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if cuda else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype)
    model = PeftModel.from_pretrained(model, adapter).eval()
    return model.to("cuda") if cuda else model


def _mode(model, adapter: bool):
    return nullcontext() if adapter else model.disable_adapter()


def perplexity(model, rows: list[tuple[list[int], list[int]]], adapter: bool) -> float | None:
    """exp(mean loss) over the tokens whose mask bit is 1 (predicting token t from tokens < t)."""
    import torch
    import torch.nn.functional as F

    total, count = 0.0, 0
    with torch.no_grad(), _mode(model, adapter):
        for ids, mask in rows:
            if len(ids) < 2 or sum(mask[1:]) == 0:
                continue
            x = torch.tensor([ids], device=model.device)
            logits = model(x).logits[0, :-1].float()
            target = x[0, 1:]
            weight = torch.tensor(mask[1:], device=model.device, dtype=torch.bool)
            losses = F.cross_entropy(logits, target, reduction="none")[weight]
            total += float(losses.sum())
            count += int(weight.sum())
    return round(math.exp(total / count), 3) if count else None


def windows(ids: list[int], size: int) -> list[tuple[list[int], list[int]]]:
    return [(ids[i:i + size], [1] * len(ids[i:i + size])) for i in range(0, len(ids), size)]


@dataclass(frozen=True)
class Decoding:
    """How an answer is written: temperature 0 is greedy; otherwise sampled from `seed`, the same for base and
    adapter, so the two answers differ by the weights only."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int = 0


def generate(model, prompt: list[int], decoding: Decoding, adapter: bool, eos_id: int) -> list[int]:
    import torch

    sampled = decoding.temperature > 0
    options = {"do_sample": sampled, "repetition_penalty": decoding.repetition_penalty,
               **({"temperature": decoding.temperature, "top_p": decoding.top_p} if sampled else {})}
    with torch.no_grad(), _mode(model, adapter):
        torch.manual_seed(decoding.seed)
        x = torch.tensor([prompt], device=model.device)
        out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=decoding.max_new_tokens,
                             eos_token_id=eos_id, pad_token_id=eos_id, **options)
    return out[0, len(prompt):].tolist()
