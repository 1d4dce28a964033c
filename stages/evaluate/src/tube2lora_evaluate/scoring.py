"""Perplexity with base and base + adapter (one PeftModel; the base is the adapter disabled)."""

from __future__ import annotations

import math

from tube2lora_models.adapted import adapter_mode


def perplexity(model, rows: list[tuple[list[int], list[int]]], adapter: bool) -> float | None:
    """exp(mean loss) over the tokens whose mask bit is 1 (predicting token t from tokens < t)."""
    import torch
    import torch.nn.functional as F

    total, count = 0.0, 0
    with torch.no_grad(), adapter_mode(model, adapter):
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
