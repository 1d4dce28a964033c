"""Perplexity and generation with base and base + adapter (one PeftModel; the base is the adapter disabled)."""

from __future__ import annotations

import math
from contextlib import nullcontext


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


def generate(model, prompt: list[int], max_new_tokens: int, adapter: bool, eos_id: int) -> list[int]:
    import torch

    with torch.no_grad(), _mode(model, adapter):
        x = torch.tensor([prompt], device=model.device)
        out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=max_new_tokens,
                             do_sample=False, eos_token_id=eos_id, pad_token_id=eos_id)
    return out[0, len(prompt):].tolist()
