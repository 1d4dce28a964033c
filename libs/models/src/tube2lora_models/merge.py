"""Merging a LoRA adapter into full weights, checked: the merged model must give the same logits as
base + adapter on fixed inputs. The merged weights are saved in the base model's own dtype (its config's
`dtype`, e.g. bfloat16 for most hub models), never widened to float32.

Where: on this process's GPU when there is one, loaded straight onto it in the base's dtype (no full copy in host
memory); on the CPU in float32. A QLoRA adapter (trained on 4-bit weights) is merged into the full-precision base,
as PEFT's documentation describes for QLoRA: merging into the 4-bit weights would round the update away, so the
merged model is the adapter on the unquantized base (which is what it was meant to approximate), and the result says
so (`from_4bit`).

The check compares base + adapter with the merged model in the dtype they ran in. In float32 the difference is
rounding only and `tolerance` applies as given; in bf16/fp16 the merged weights are rounded to 8 (11) significant
bits, so the tolerance also allows two units in the last place of the largest logit (reported as `tolerance`).
"""

from __future__ import annotations

from pathlib import Path

from .loading import Placement, load_base, placement

HALF_PRECISION_ULPS = {"bfloat16": 2.0 ** -7, "float16": 2.0 ** -10}  # two units in the last place, relative


def merge(base_model: str, encoder, adapter: Path, target: Path, probes: list[list[int]], tolerance: float,
          from_4bit: bool = False, where: Placement | None = None) -> dict:
    """Save base + adapter merged into `target` (with the tokenizer), in the base's dtype; compare logits on up
    to three probes of token ids (128 tokens each). The result says whether the merge is within the tolerance, the
    dtype saved and the device and dtype the merge ran in."""
    import torch
    from peft import PeftModel
    from transformers import AutoConfig

    saved_dtype = base_dtype(AutoConfig.from_pretrained(base_model))
    where = where or placement()
    if where.device == "cuda":
        where = Placement("cuda", saved_dtype if saved_dtype != torch.float32 else where.dtype, where.local_rank)
    base = load_base(base_model, where, load_in_4bit=False, purpose="the base model")
    model = PeftModel.from_pretrained(base, str(adapter)).eval()
    device = next(model.parameters()).device
    inputs = [torch.tensor([ids[:128]], device=device) for ids in probes[:3]]
    with torch.no_grad():
        expected = [model(ids).logits.float() for ids in inputs]
        merged = model.merge_and_unload()
        got = [merged(ids).logits.float() for ids in inputs]
    diff = max(float((a - b).abs().max()) for a, b in zip(expected, got))
    largest = max(float(a.abs().max()) for a in expected)
    allowed = tolerance + HALF_PRECISION_ULPS.get(where.dtype_name, 0.0) * largest
    merged.to(saved_dtype).save_pretrained(target)
    encoder.save(target)
    return {"max_abs_logit_diff": diff, "tolerance": allowed, "ok": diff <= allowed, "probes": len(inputs),
            "dtype": str(saved_dtype).replace("torch.", ""), "device": where.device, "compared_in": where.dtype_name,
            "from_4bit": from_4bit}


def base_dtype(config):
    """The dtype a model's config says its weights are in (float32 when it says none; a multimodal model's language
    model's when only that says)."""
    import torch

    named = (getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
             or getattr(getattr(config, "text_config", None), "dtype", None) or "float32")
    return named if isinstance(named, torch.dtype) else getattr(torch, str(named).replace("torch.", ""))
