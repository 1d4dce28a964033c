"""The PEFT side of the equivalence check: per-position negative log-likelihood and top-1 next token of the
Hugging Face base model, with the adapter and without (the same PeftModel, adapter disabled), in float32."""

from __future__ import annotations

from pathlib import Path


def peft_scores(base_model: str, adapter: Path, windows: list[list[int]]) -> dict[str, list[dict]]:
    """{"base": [...], "adapter": [...]}, each a list of {"nll": [...], "top1": [...]} per window."""
    import torch
    from peft import PeftModel

    from tube2lora_models.loading import Placement, load_base

    # as train loaded it (a Mistral 3 as what it is, text only), on the CPU in float32
    model = load_base(base_model, Placement("cpu", torch.float32), purpose="the base model")
    model = PeftModel.from_pretrained(model, str(adapter)).eval()
    out: dict[str, list[dict]] = {"base": [], "adapter": []}
    with torch.no_grad():
        for side in ("base", "adapter"):
            for ids in windows:
                x = torch.tensor([ids])
                if side == "base":
                    with model.disable_adapter():
                        logits = model(x).logits[0, :-1].double()
                else:
                    logits = model(x).logits[0, :-1].double()
                nll = torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="none")
                out[side].append({"nll": nll.tolist(), "top1": logits.argmax(dim=-1).tolist()})
    return out
