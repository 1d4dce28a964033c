"""The video-level train/eval split (pure): no chunk of an eval video is ever trained on."""

from __future__ import annotations

import hashlib
import math


def split_videos(video_ids: list[str], eval_share: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, eval) video ids; seeded and stable; at least one eval video when there are two or more."""
    unique = sorted(set(video_ids))
    ranked = sorted(unique, key=lambda v: hashlib.sha256(f"{seed}:{v}".encode()).hexdigest())
    n_eval = 0 if eval_share == 0 or len(unique) < 2 else max(1, math.floor(eval_share * len(unique)))
    evals = sorted(ranked[:n_eval])
    return [v for v in unique if v not in evals], evals
