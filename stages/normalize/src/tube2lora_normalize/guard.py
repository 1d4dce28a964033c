"""The voice guard (pure): a chunk keeps its cleaned text only if it still says what was said."""

from __future__ import annotations

from tube2lora_shared.llm import Answer, LLMError
from tube2lora_shared.records import Chunk
from tube2lora_shared.textstats import similarity, words

from .chunking import Draft
from .config import NormalizeConfig


def guard(draft: Draft, answer: Answer | LLMError, cfg: NormalizeConfig) -> Chunk:
    """The cleaned chunk; or the source text with the reason (the LLM error, `estimate`, or `drift`: word
    similarity below min_similarity, or a word-count ratio outside min/max_length_ratio)."""
    base = dict(index=draft.index, start=draft.start, end=draft.end, source=draft.text, speaker=draft.speaker,
                is_creator=draft.is_creator)
    if isinstance(answer, LLMError) or answer.value is None:
        reason = answer.reason if isinstance(answer, LLMError) else "estimate"
        return Chunk(**base, text=draft.text, kept_source=reason)
    cleaned = answer.value
    sim = round(similarity(draft.text, cleaned), 4)
    ratio = round(len(words(cleaned)) / max(1, len(words(draft.text))), 4)
    if sim < cfg.min_similarity or not cfg.min_length_ratio <= ratio <= cfg.max_length_ratio:
        return Chunk(**base, text=draft.text, kept_source="drift", similarity=sim, length_ratio=ratio)
    return Chunk(**base, text=cleaned, similarity=sim, length_ratio=ratio)
