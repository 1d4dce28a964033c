"""The filter's cuts carried into normalize's chunks (pure): the LLM-written generators take a chunk for its
time range, but only the sentences of it that survived the filter, so a boilerplate sentence the filter cut
reaches no dataset. Chunks of another voice than the creator's (a host, a guest) are never a source."""

from __future__ import annotations

from tube2lora_shared.records import Chunk, Kept, Normalized
from tube2lora_shared.segmentation import join_text, sentences, words


def _key(text: str) -> str:
    return " " + " ".join(w.lower() for w in words(text)) + " "


def surviving_chunks(normalized: Normalized, kept: Kept) -> list[Chunk]:
    """The video's chunks keeping only the sentences whose words run unbroken through the kept text (so a
    sentence split differently at a chunk's edge is judged by its words, not by where it was split); a chunk
    that lost a sentence uses its surviving cleaned text as its source too, and a chunk left empty is gone."""
    survived = _key(kept.text)
    chunks = []
    for chunk in normalized.chunks:
        if chunk.is_creator is False:
            continue
        parts = sentences(chunk.text)
        left = [s for s in parts if _key(s) in survived]
        if len(left) == len(parts):
            chunks.append(chunk)
        elif left:
            text = join_text(left)
            chunks.append(chunk.model_copy(update={"text": text, "source": text}))
    return chunks
