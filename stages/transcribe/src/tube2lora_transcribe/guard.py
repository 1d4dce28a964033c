"""The hallucination guard: drop whisper's known silence phrases and repetition loops (pure).

Segments are compared as their lower-cased words in any script (shared segmentation: a CJK character is a
word, so a loop in Japanese is a repeated run of characters)."""

from __future__ import annotations

from collections import Counter

from tube2lora_shared.records import Segment
from tube2lora_shared.segmentation import words

from .config import GuardConfig


def normalize(text: str) -> str:
    return " ".join(w.lower() for w in words(text))


def has_loop(words: list[str], repeats: int, max_phrase: int = 6) -> bool:
    """True when some phrase of 1..max_phrase words occurs `repeats` times back to back."""
    for size in range(1, max_phrase + 1):
        for start in range(0, len(words) - size * repeats + 1):
            phrase = words[start:start + size]
            if all(words[start + k * size:start + (k + 1) * size] == phrase for k in range(1, repeats)):
                return True
    return False


def apply_guard(segments: list[Segment], cfg: GuardConfig) -> tuple[list[Segment], Counter[str]]:
    phrases = {normalize(p) for p in cfg.phrases}
    kept: list[Segment] = []
    dropped: Counter[str] = Counter()
    previous, run = None, 0
    for segment in segments:
        norm = normalize(segment.text)
        if not norm:
            dropped["empty"] += 1
            continue
        run = run + 1 if norm == previous else 1
        previous = norm
        if run > cfg.max_repeats or has_loop(norm.split(), cfg.loop_repeats):
            dropped["repetition"] += 1
            continue
        silent = segment.no_speech_prob is not None and segment.no_speech_prob >= cfg.no_speech_threshold
        if norm in phrases and silent:
            dropped["hallucination_phrase"] += 1
            continue
        kept.append(segment)
    return kept, dropped
