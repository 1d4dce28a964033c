"""Boilerplate across a channel (pure): sentences recurring in many videos are cut, except in a
deterministic share of videos, so a creator's sign-off survives as style instead of vanishing. Sentences and
words in any script (shared segmentation); the kept sentences are joined back without a space
between CJK sentences."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from tube2lora_shared.segmentation import join_text, sentences, words


@dataclass
class Recurring:
    sentence: str  # as first seen
    videos: list[str] = field(default_factory=list)
    removed_from: list[str] = field(default_factory=list)
    kept_in: list[str] = field(default_factory=list)


def _key(sentence: str) -> str:
    return " ".join(w.lower() for w in words(sentence))


def _keeps(key: str, video: str, rate: float) -> bool:
    digest = hashlib.sha256(f"{key}\0{video}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def remove(texts: dict[str, str], min_videos: int, min_share: float, min_words: int,
           keep_rate: float) -> tuple[dict[str, str], dict[str, int], list[Recurring]]:
    """(texts with boilerplate cut, sentences cut per video, the recurring sentences found)."""
    split = {vid: sentences(text) for vid, text in texts.items()}
    found: dict[str, Recurring] = {}
    for vid, parts in split.items():
        for key, sentence in {_key(s): s for s in parts if len(words(s)) >= min_words}.items():
            found.setdefault(key, Recurring(sentence)).videos.append(vid)
    needed = max(min_videos, math.ceil(min_share * len(texts)))
    recurring = {key: r for key, r in found.items() if len(r.videos) >= needed}
    cleaned, cut = {}, {}
    for vid, parts in split.items():
        kept_parts, removed = [], 0
        for sentence in parts:
            r = recurring.get(_key(sentence))
            if r is None:
                kept_parts.append(sentence)
            elif _keeps(_key(sentence), vid, keep_rate):
                kept_parts.append(sentence)
                r.kept_in.append(vid) if vid not in r.kept_in else None
            else:
                removed += 1
                r.removed_from.append(vid) if vid not in r.removed_from else None
        cleaned[vid], cut[vid] = join_text(kept_parts), removed
    return cleaned, cut, sorted(recurring.values(), key=lambda r: -len(r.videos))
