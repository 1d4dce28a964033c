"""The video-level train/eval split (pure): no row of an eval video is ever trained on. It is decided over
the usable videos (kept by filter, with at least one passage or example), not over the videos that
happened to get accepted examples, so a held-out video always brings its transcript passages."""

from __future__ import annotations

import hashlib
import math

from tube2lora_shared.errors import StageError


def split_videos(video_ids: list[str], eval_share: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, eval) video ids; seeded and stable; at least one of each when eval_share > 0, which needs two
    usable videos (a StageError otherwise, before anything is loaded)."""
    unique = sorted(set(video_ids))
    if not unique:
        raise StageError("no usable video: the generate stage made no passage or example of any kept video "
                         "(see stages/generate/README.md)")
    if eval_share > 0 and len(unique) < 2:
        raise StageError(f"only 1 usable video ({unique[0]}): need at least two, one to train on and one to hold "
                         "out; add videos or lower filter thresholds")
    ranked = sorted(unique, key=lambda v: hashlib.sha256(f"{seed}:{v}".encode()).hexdigest())
    n_eval = 0 if eval_share == 0 else max(1, math.floor(eval_share * len(unique)))
    evals = sorted(ranked[:n_eval])
    return [v for v in unique if v not in evals], evals
