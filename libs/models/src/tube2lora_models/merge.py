"""Merging a LoRA adapter into full weights, checked: the merged model must give the same logits as
base + adapter on fixed inputs. The merged weights are saved in the base model's own dtype (its config's
`dtype`, e.g. bfloat16 for most hub models), never widened to float32."""

from __future__ import annotations

from pathlib import Path


def merge(base_model: str, encoder, adapter: Path, target: Path, probes: list[list[int]],
          tolerance: float) -> dict:
    """Save base + adapter merged into `target` (with the tokenizer), in the base's dtype; compare logits on up
    to three probes of token ids (128 tokens each), both in float32 (the merge itself, not the cast to the
    base's dtype for saving). The result says whether the merge is within `tolerance`, and the dtype saved."""
    import torch
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForCausalLM

    saved_dtype = base_dtype(AutoConfig.from_pretrained(base_model))
    base = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter)).eval()
    inputs = [torch.tensor([ids[:128]]) for ids in probes[:3]]
    with torch.no_grad():
        expected = [model(ids).logits for ids in inputs]
        merged = model.merge_and_unload()
        got = [merged(ids).logits for ids in inputs]
    diff = max(float((a - b).abs().max()) for a, b in zip(expected, got))
    merged.to(saved_dtype).save_pretrained(target)
    encoder.save(target)
    return {"max_abs_logit_diff": diff, "tolerance": tolerance, "ok": diff <= tolerance, "probes": len(inputs),
            "dtype": str(saved_dtype).replace("torch.", "")}


def base_dtype(config):
    """The dtype a model's config says its weights are in (float32 when it says none)."""
    import torch

    named = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) or "float32"
    return named if isinstance(named, torch.dtype) else getattr(torch, str(named).replace("torch.", ""))
