"""The mask audit, per source: what share of tokens is trained, what one example looks like, whether the
end-of-sequence token is learned, and the two rules: a chat row trains only its assistant turns (no
system or user text shows inside its trained tokens), a monologue row trains every token."""

from __future__ import annotations

from typing import Any

from tube2lora_shared.segmentation import words

PROMPT_WORDS = 4  # a system / user turn at least this long is looked for inside the trained text


def mask_audit(rows: list[dict[str, Any]], decode, eos_id: int) -> dict[str, Any]:
    """{"examples", "tokens", "supervised_tokens", "supervised_share", "eos_trained", "sources": {source:
    the same per source, plus its kind, spans, rule breaches and one example}}. `decode(ids, keep_special)`."""
    sources = {}
    for source in dict.fromkeys(r["source"] for r in rows):
        sources[source] = _source([r for r in rows if r["source"] == source], decode, eos_id)
    total = sum(s["tokens"] for s in sources.values())
    supervised = sum(s["supervised_tokens"] for s in sources.values())
    return {"examples": len(rows), "tokens": total, "supervised_tokens": supervised,
            "supervised_share": round(supervised / total, 4) if total else 0.0,
            "eos_trained": bool(sources) and all(s["eos_trained"] for s in sources.values()),
            "rule_breaches": sum(s["rule_breaches"] for s in sources.values()), "sources": sources}


def _source(rows: list[dict[str, Any]], decode, eos_id: int) -> dict[str, Any]:
    chat = "messages" in rows[0]
    total = sum(len(r["input_ids"]) for r in rows)
    supervised = sum(sum(r["assistant_masks"]) for r in rows)
    spans = [span for r in rows for span in _spans(r)]
    if chat:  # no system or user text inside the trained tokens
        breaches = sum(1 for r in rows if _prompt_trained(r, decode))
    else:  # every token trained
        breaches = sum(1 for r in rows if not all(r["assistant_masks"]))
    return {"kind": "chat" if chat else "text", "examples": len(rows), "tokens": total,
            "supervised_tokens": supervised, "supervised_share": round(supervised / total, 4) if total else 0.0,
            "spans": len(spans), "eos_trained": bool(spans) and all(eos_id in span for span in spans),
            "rule_breaches": breaches, "example_trained_between_guillemets": _shown(rows[0], decode)}


def _spans(row: dict[str, Any]) -> list[list[int]]:
    """The trained runs of tokens: each should end with the end-of-turn (or end-of-text) token."""
    spans, run = [], []
    for token, bit in zip(row["input_ids"], row["assistant_masks"]):
        if bit:
            run.append(token)
        elif run:
            spans.append(run)
            run = []
    return spans + [run] if run else spans


def _prompt_trained(row: dict[str, Any], decode) -> bool:
    trained = " ".join(decode(span, False) for span in _spans(row))
    prompts = [m["content"].strip() for m in row["messages"] if m["role"] != "assistant"]
    return any(len(words(p)) >= PROMPT_WORDS and p in trained for p in prompts)


def _shown(row: dict[str, Any], decode) -> str:
    pieces, current, inside = [], [], row["assistant_masks"][0] == 1
    for token, bit in zip(row["input_ids"], row["assistant_masks"]):
        if (bit == 1) != inside:
            pieces.append(("«" + decode(current, True) + "»") if inside else decode(current, True))
            current, inside = [], bit == 1
        current.append(token)
    pieces.append(("«" + decode(current, True) + "»") if inside else decode(current, True))
    return "".join(pieces)
