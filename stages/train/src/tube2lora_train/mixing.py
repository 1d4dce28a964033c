"""The training data, mixed and encoded (pure: no I/O): chat examples plus a share of editorial rewrites,
as (video, messages) conversations, then token rows with assistant masks on either side of the split."""

from __future__ import annotations

import math
import random

from tube2lora_shared.errors import StageError, UsageError
from tube2lora_shared.records import ChatExample, EditExample

Conversation = tuple[str, list[dict[str, str]]]  # (video id, messages)


def mix(chats: list[ChatExample], edits: list[EditExample], editorial_weight: float, seed: int) -> list[Conversation]:
    """Every chat example, then editorial_weight editorial examples per chat example (seeded choice)."""
    conversations = [(c.provenance.video_id, c.messages) for c in chats]
    if editorial_weight > 0 and edits:
        shuffled = list(edits)
        random.Random(seed).shuffle(shuffled)
        take = min(len(shuffled), math.ceil(editorial_weight * len(chats)))
        conversations += [(e.provenance.video_id, [{"role": "user", "content": f"{e.instruction}\n\n{e.input}"},
                                                   {"role": "assistant", "content": e.output}])
                          for e in shuffled[:take]]
    return conversations


def encode_rows(encoder, conversations: list[Conversation], eval_videos: list[str]) -> dict[str, list[dict]]:
    """{"train": rows, "eval": rows}, each row {"input_ids", "assistant_masks"}; a conversation the chat
    format refuses is a StageError naming it."""
    held_out = set(eval_videos)
    rows: dict[str, list[dict]] = {"train": [], "eval": []}
    for n, (video, messages) in enumerate(conversations):
        try:
            ids, mask = encoder.encode(messages)
        except UsageError:
            raise
        except Exception as exc:  # mistral-common / jinja refuse a malformed conversation
            raise StageError(f"conversation {n} (video {video}) is rejected by the tokenizer's chat format: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        rows["eval" if video in held_out else "train"].append({"input_ids": ids, "assistant_masks": mask})
    return rows


def max_length(rows: dict[str, list[dict]], configured: int | None, cap: int) -> int:
    """The configured length, else the longest example rounded up to 64, at most `cap`."""
    longest = max(len(r["input_ids"]) for r in rows["train"] + rows["eval"])
    return configured or min(cap, 64 * math.ceil(longest / 64))
