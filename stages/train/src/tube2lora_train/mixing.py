"""The training data, encoded and mixed (pure: no I/O).

Every source becomes rows `{"input_ids", "assistant_masks", "source", "video", ...}`: the chat sources
(own_words, talk_as_creator, editorial_rewrite) through the tokenizer's chat format, loss on the
assistant's tokens only; `monologue` (the creator's passages as plain text) with loss on every token.

How `train.mix` is met (`mix`): nothing the creator said is thrown away while it can be helped. The
weights of the sources that have training rows are turned into shares of the supervised training tokens;
the most plentiful source relative to its share is used whole and sets the total, and a scarcer source is
repeated up to its share (whole copies in a seeded order, the last copy partial) at most `max_repeats`
times over. Where that cap binds, the total shrinks to what the capped source can carry and the others are
subsampled by whole rows, in a seeded order (`max_repeats: 1` repeats nothing: the scarcest source sets
the total). A weighted source with no rows is left out (a warning) and the others' shares renormalise.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

from tube2lora_shared.errors import StageError, UsageError
from tube2lora_shared.records import ChatExample, EditExample, Passage

SOURCES = ("own_words", "talk_as_creator", "editorial_rewrite", "monologue")
CHAT_SOURCES = SOURCES[:3]
MONOLOGUE = "monologue"

Row = dict[str, Any]


def items(source: str, records: list) -> list[Row]:
    """A source's records as unencoded rows: {"source", "video", "messages"} or {"source", "video", "text"}."""
    out = []
    for record in records:
        if isinstance(record, Passage):
            out.append({"source": source, "video": record.video_id, "text": record.text})
        elif isinstance(record, EditExample):
            out.append({"source": source, "video": record.provenance.video_id,
                        "messages": [{"role": "user", "content": f"{record.instruction}\n\n{record.input}"},
                                     {"role": "assistant", "content": record.output}]})
        elif isinstance(record, ChatExample):
            out.append({"source": source, "video": record.provenance.video_id, "messages": record.messages})
        else:
            raise TypeError(f"not a training record: {type(record).__name__}")
    return out


def encode(encoder, rows: list[Row]) -> list[Row]:
    """Each row with its `input_ids` and `assistant_masks`; a conversation the chat format refuses is a
    StageError naming it."""
    out, seen = [], Counter()
    for row in rows:
        n = seen[row["source"]]
        seen[row["source"]] += 1
        if "text" in row:
            ids, mask = encoder.encode_text(row["text"])
        else:
            try:
                ids, mask = encoder.encode(row["messages"])
            except UsageError:
                raise
            except Exception as exc:  # mistral-common / jinja refuse a malformed conversation
                first = str(exc).splitlines()[0] if str(exc) else ""
                raise StageError(f"{row['source']} conversation {n} (video {row['video']}) is rejected by the "
                                 f"tokenizer's chat format: {type(exc).__name__}: {first}") from None
        out.append({**row, "input_ids": ids, "assistant_masks": mask})
    return out


def usable_videos(kept: list[str], rows: list[Row]) -> tuple[list[str], list[str]]:
    """(usable, excluded): the kept videos that have at least one row, and those that have none. With no
    list of kept videos (an older generate stage), every video that has a row."""
    having = {r["video"] for r in rows}
    kept = sorted(set(kept)) or sorted(having)
    return [v for v in kept if v in having], [v for v in kept if v not in having]


def mix(rows: list[Row], weights: dict[str, float], seed: int,
        max_repeats: float = 1.0) -> tuple[list[Row], dict[str, dict], list[str]]:
    """(the training rows at the configured token shares, per source what was asked and achieved, one
    warning per weighted source that has no row). Rows of sources weighted 0 are left out; a source is
    repeated at most `max_repeats` times over to reach its share."""
    by_source = {s: [r for r in rows if r["source"] == s] for s in SOURCES}
    weighted = [s for s in SOURCES if weights.get(s, 0) > 0]
    present = [s for s in weighted if by_source[s] and _supervised(by_source[s])]
    warnings = [f"train.mix.{s} is {weights[s]:g} but there is no {s} data for the training videos; the other "
                f"sources' shares are renormalised" for s in weighted if s not in present]
    if not present:
        raise StageError(f"nothing to train on: train.mix weights {', '.join(weighted) or 'no source'} and the "
                         "generate stage made none of them for the training videos (see stages/generate/README.md)")
    total_weight = sum(weights[s] for s in present)
    target_share = {s: weights[s] / total_weight for s in present}
    carries = {s: _supervised(by_source[s]) / target_share[s] for s in present}  # the total each source fills
    total = min(max(carries.values()), max_repeats * min(carries.values()))
    chosen: list[Row] = []
    report: dict[str, dict] = {}
    for source in SOURCES:
        available = by_source[source]
        taken = _repeat(available, target_share[source] * total, f"{seed}:{source}") if source in present else []
        chosen += taken
        report[source] = {"weight": weights.get(source, 0.0), "target_share": round(target_share.get(source, 0.0), 4),
                          "rows": len(taken), "unique_rows": len({id(r) for r in taken}),
                          "available_rows": len(available),
                          "supervised_tokens": _supervised(taken), "tokens": sum(len(r["input_ids"]) for r in taken)}
    supervised = _supervised(chosen)
    for entry in report.values():
        entry["share"] = round(entry["supervised_tokens"] / supervised, 4) if supervised else 0.0
    return chosen, report, warnings


def eval_rows(rows: list[Row], weights: dict[str, float]) -> list[Row]:
    """What the eval loss is measured on: the held-out videos' monologue passages always (the creator's own
    text, whatever the mix), and their rows of every weighted chat source."""
    return [r for r in rows if r["source"] == MONOLOGUE or weights.get(r["source"], 0) > 0]


def max_length(rows: list[Row], configured: int | None, cap: int) -> int:
    """The configured length, else the longest row rounded up to 64, at most `cap`."""
    longest = max(len(r["input_ids"]) for r in rows)
    return configured or min(cap, 64 * math.ceil(longest / 64))


def _repeat(rows: list[Row], target: float, seed: str) -> list[Row]:
    """Whole copies of `rows` while a whole copy fits in `target` supervised tokens, then `_take` of the
    rest; every copy in its own seeded order, so a partial last copy is a fair sample."""
    size, out, copy = _supervised(rows), [], 0
    while size and target - _supervised(out) >= size:
        out += _take(rows, size, f"{seed}:{copy}")
        copy += 1
    return out + _take(rows, target - _supervised(out), f"{seed}:{copy}")


def _take(rows: list[Row], target: float, seed: str) -> list[Row]:
    """Whole rows in a seeded order while each brings the supervised tokens closer to `target`."""
    order = list(rows)
    random.Random(seed).shuffle(order)
    taken, tokens = [], 0
    for row in order:
        size = sum(row["assistant_masks"])
        if tokens + size / 2 > target:
            break
        taken.append(row)
        tokens += size
    return taken


def _supervised(rows: list[Row]) -> int:
    return sum(sum(r["assistant_masks"]) for r in rows)
