"""Merging a LoRA adapter into full weights, checked: the merged model must give the same logits as
base + adapter on fixed inputs."""

from __future__ import annotations

from pathlib import Path


def merge(base_model: str, encoder, adapter: Path, target: Path, probes: list[list[int]],
          tolerance: float) -> dict:
    """Save base + adapter merged into `target` (with the tokenizer); compare logits on up to three
    probes of token ids (128 tokens each). The result says whether the merge is within `tolerance`."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter)).eval()
    inputs = [torch.tensor([ids[:128]]) for ids in probes[:3]]
    with torch.no_grad():
        expected = [model(ids).logits for ids in inputs]
        merged = model.merge_and_unload()
        got = [merged(ids).logits for ids in inputs]
    diff = max(float((a - b).abs().max()) for a, b in zip(expected, got))
    merged.save_pretrained(target)
    encoder.save(target)
    return {"max_abs_logit_diff": diff, "tolerance": tolerance, "ok": diff <= tolerance, "probes": len(inputs)}
