"""The mask audit: what share of tokens is trained, what one example looks like, whether EOS is learned."""

from __future__ import annotations

from typing import Any


def mask_audit(rows: list[dict[str, Any]], decode, eos_id: int) -> dict[str, Any]:
    total = sum(len(r["input_ids"]) for r in rows)
    supervised = sum(sum(r["assistant_masks"]) for r in rows)
    spans = []  # the trained runs of tokens: each should end an assistant turn with the end-of-turn token
    for r in rows:
        run: list[int] = []
        for token, bit in zip(r["input_ids"], r["assistant_masks"]):
            if bit:
                run.append(token)
            elif run:
                spans.append(run)
                run = []
        if run:
            spans.append(run)
    example = rows[0] if rows else None
    shown = ""
    if example:
        pieces, current, inside = [], [], example["assistant_masks"][0] == 1
        for token, bit in zip(example["input_ids"], example["assistant_masks"]):
            if (bit == 1) != inside:
                pieces.append(("«" + decode(current) + "»") if inside else decode(current))
                current, inside = [], bit == 1
            current.append(token)
        pieces.append(("«" + decode(current) + "»") if inside else decode(current))
        shown = "".join(pieces)
    return {
        "examples": len(rows),
        "tokens": total,
        "supervised_tokens": supervised,
        "supervised_share": round(supervised / total, 4) if total else 0.0,
        "assistant_spans": len(spans),
        "eos_trained": bool(spans) and all(eos_id in span for span in spans),
        "example_trained_between_guillemets": shown,
    }
