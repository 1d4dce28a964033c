"""Segment-aware chunking (pure): no chunk ever exceeds `max_chars`, time ranges are kept, and a chunk never
mixes speakers (a new chunk starts where another voice takes over). Pieces are joined with a space except between
CJK characters (shared `join_text`), where the transcript had none."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tube2lora_shared.records import Segment
from tube2lora_shared.segmentation import collapse_space, join_text

_SENTENCE = re.compile(r"(?<=[.!?؟।])\s+|(?<=[。！？])\s*")  # no space follows a full-width end


@dataclass(frozen=True)
class Piece:
    start: float
    end: float
    text: str
    speaker: str | None = None
    is_creator: bool | None = None


@dataclass(frozen=True)
class Draft:
    index: int
    start: float
    end: float
    text: str
    context: str  # the tail of the text before it, for the model's eyes only
    speaker: str | None = None
    is_creator: bool | None = None


def split_long(text: str, limit: int) -> list[str]:
    """Split text into parts of at most `limit` chars: at sentence ends, else words, else hard."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    for unit in filter(None, _SENTENCE.split(text)):
        for word_run in ([unit] if len(unit) <= limit else _by_words(unit, limit)):
            if parts and len(parts[-1]) + 1 + len(word_run) <= limit:
                parts[-1] = join_text([parts[-1], word_run])
            else:
                parts.append(word_run)
    return parts


def _by_words(text: str, limit: int) -> list[str]:
    out: list[str] = []
    for word in text.split():
        pieces = [word[i:i + limit] for i in range(0, len(word), limit)]  # a word longer than the limit
        for piece in pieces:
            if out and len(out[-1]) + 1 + len(piece) <= limit:
                out[-1] = f"{out[-1]} {piece}"
            else:
                out.append(piece)
    return out


def pieces(segments: list[Segment], max_chars: int) -> list[Piece]:
    """Segments as pieces no longer than max_chars; a long segment's time is shared out by characters."""
    found: list[Piece] = []
    for seg in segments:
        text = collapse_space(seg.text)
        if not text:
            continue
        parts = split_long(text, max_chars)
        total = sum(len(p) for p in parts)
        at = seg.start
        for part in parts:
            span = (seg.end - seg.start) * len(part) / total
            found.append(Piece(round(at, 3), round(at + span, 3), part, seg.speaker, seg.is_creator))
            at += span
    return found


def tail(text: str, chars: int) -> str:
    """The last `chars` characters of text, starting at a whole word."""
    if chars <= 0 or len(text) <= chars:
        return text if chars > 0 else ""
    return text[-chars:].split(" ", 1)[-1]


def chunk(segments: list[Segment], target_chars: int, max_chars: int, overlap_chars: int = 0) -> list[Draft]:
    drafts: list[Draft] = []
    current: list[Piece] = []

    def close() -> None:
        if current:
            text = join_text([p.text for p in current])
            context = tail(drafts[-1].text, overlap_chars) if drafts else ""
            drafts.append(Draft(len(drafts), current[0].start, current[-1].end, text, context, current[0].speaker,
                                current[0].is_creator))
            current.clear()

    for piece in pieces(segments, max_chars):
        size = sum(len(p.text) + 1 for p in current) + len(piece.text)
        turn = current and (piece.speaker, piece.is_creator) != (current[0].speaker, current[0].is_creator)
        if current and (turn or size > max_chars or size > target_chars):
            close()
        current.append(piece)
    close()
    return drafts
