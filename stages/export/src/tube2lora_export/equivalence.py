"""Does llama.cpp + the GGUF adapter move the model the way PEFT does? Pure arithmetic on per-position scores.

Two measures on the same held-out token windows (the same token ids on both sides):
- the perplexity ratio adapter / base, in llama.cpp and in PEFT: within `tolerance` of each other (relative).
  Ratios, not perplexities: llama.cpp's base may be quantized (the demo's is Q4_1), which moves both of its
  perplexities alike;
- top-1 next-token agreement between llama.cpp and PEFT, with the adapter and without: with the adapter no lower
  than without, beyond the noise of counting it on these tokens (two binomial standard errors of the base's
  agreement: 1.7 points on the demo's 532 tokens at 96%): the adapter does not make the two runtimes disagree
  more than the quantized base does. A correct conversion measured 0.6 points below on one training run (3
  tokens of 532) and above on others; a wrong q/k row order 2.1 and 6.2 points below, and 1.5 points (+0.8% on
  the ratio: passed) on an adapter whose q/k deltas hardly moved the model. Behaviour is what is checked: an
  error that does not change it is not seen (the row order is tested exactly by reading the GGUF back).
"""

from __future__ import annotations

import math


def perplexity(windows: list[dict]) -> float:
    values = [v for w in windows for v in w["nll"]]
    return math.exp(sum(values) / len(values))


def agreement(left: list[dict], right: list[dict]) -> float:
    pairs = [(a, b) for wl, wr in zip(left, right) for a, b in zip(wl["top1"], wr["top1"])]
    return sum(a == b for a, b in pairs) / len(pairs)


def compare(llama: dict[str, list[dict]], peft: dict[str, list[dict]], tolerance: float) -> dict:
    """Both sides' {"base": windows, "adapter": windows} -> the check's figures and verdict."""
    ppl = {side: {"base": perplexity(scores["base"]), "adapter": perplexity(scores["adapter"])}
           for side, scores in (("llama_cpp", llama), ("peft", peft))}
    ratios = {side: p["adapter"] / p["base"] for side, p in ppl.items()}
    gap = ratios["llama_cpp"] / ratios["peft"] - 1
    agree = {"adapter": agreement(llama["adapter"], peft["adapter"]), "base": agreement(llama["base"], peft["base"])}
    tokens = sum(len(w["nll"]) for w in peft["base"])
    margin = 2 * math.sqrt(agree["base"] * (1 - agree["base"]) / tokens)
    return {
        "tokens": tokens,
        "windows": len(peft["base"]),
        "perplexity": {side: {k: round(v, 4) for k, v in p.items()} for side, p in ppl.items()},
        "ratio": {side: round(r, 4) for side, r in ratios.items()},
        "ratio_gap": round(gap, 4),
        "tolerance": tolerance,
        "top1_agreement": {k: round(v, 4) for k, v in agree.items()},
        "ratio_ok": abs(gap) <= tolerance,
        "agreement_margin": round(margin, 4),
        "agreement_ok": agree["adapter"] >= agree["base"] - margin,
    }


def failure(result: dict) -> str | None:
    """The sentence a failed check ends the stage with, or None when it passed."""
    if not result["ratio_ok"]:
        return (f"llama.cpp with the GGUF adapter changes perplexity by x{result['ratio']['llama_cpp']:.3f}, PEFT by "
                f"x{result['ratio']['peft']:.3f}: {abs(result['ratio_gap']):.1%} apart (> export.ppl_ratio_tolerance "
                f"{result['tolerance']:.0%}); the GGUF adapter is not trustworthy, the PEFT adapter is kept")
    if not result["agreement_ok"]:
        agree = result["top1_agreement"]
        return (f"llama.cpp and PEFT agree on the next token {agree['adapter']:.1%} of the time with the adapter, "
                f"{agree['base']:.1%} without (more than the {result['agreement_margin']:.1%} counting noise apart): "
                "the GGUF adapter does not act as the PEFT one; the PEFT adapter is kept")
    return None
