"""The creator's passages (pure): the filter's kept text (boilerplate already cut) cut at sentence
boundaries into whole thoughts of `min_words`..`max_words`, verbatim (a passage is a slice of the kept
text, not a re-joined copy), each usable or dropped with a reason before any LLM sees it. Sentences and words in
any script (shared segmentation); a run-on stretch without spaces (Chinese, Japanese) is cut between words. Where
speakers were attributed, the kept text holds only the creator's turns and a passage never runs across two of them:
it closes where a turn starts, and a passage that opens a turn carries the question asked right before it."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from tube2lora_shared.languages import identified_allowed, identify
from tube2lora_shared.records import Kept, Passage
from tube2lora_shared.segmentation import sentence_spans, word_spans, words

from .config import OwnWords
from .deixis import deixis_share
from .turns import key

Span = tuple[int, int]
_CLAUSE_GAP = re.compile(r"(?<=[,;:،])\s+|(?<=[、，；：])\s*")  # full-width commas take no space after them
_WORD_GAP = re.compile(r"\s+")


def _split(text: str, span: Span, gap: re.Pattern) -> list[Span]:
    parts, start = [], span[0]
    for m in gap.finditer(text, span[0], span[1]):
        parts.append((start, m.start()))
        start = m.end()
    parts.append((start, span[1]))
    return [p for p in parts if p[1] > p[0]]


def _words_of(text: str, span: Span) -> list[Span]:
    """The span cut before each of its words but the first (white space between words dropped)."""
    starts = [a for a, _ in word_spans(text[span[0]:span[1]])][1:]
    cuts = [span[0], *(span[0] + a for a in starts), span[1]]
    parts = [(a, a + len(text[a:b].rstrip())) for a, b in zip(cuts, cuts[1:])]
    return [p for p in parts if p[1] > p[0]]


def _size(text: str, span: Span) -> int:
    return len(words(text[span[0]:span[1]]))


def _pack(text: str, parts: list[Span], limit: int) -> list[Span]:
    """Consecutive parts merged greedily while the merged span has at most `limit` words."""
    out: list[Span] = []
    current, n = None, 0
    for part in parts:
        k = _size(text, part)
        if current and n + k > limit:
            out.append(current)
            current, n = None, 0
        current, n = (current[0] if current else part[0], part[1]), n + k
    if current:
        out.append(current)
    return out


def pieces(text: str, max_words: int) -> list[Span]:
    """Sentence spans; a sentence longer than `max_words` (a run-on transcript) is cut at its commas,
    semicolons and colons, and a clause still too long at its words."""
    out: list[Span] = []
    for sentence in sentence_spans(text):
        if _size(text, sentence) <= max_words:
            out.append(sentence)
            continue
        for clause in _pack(text, _split(text, sentence, _CLAUSE_GAP), max_words):
            out.extend([clause] if _size(text, clause) <= max_words
                       else _pack(text, _words_of(text, clause), max_words))
    return out


def _turn_inside(text: str, span: Span, turns: frozenset[str]) -> int | None:
    """Where a turn starts inside a piece: a transcript segment that ran across two speakers can leave the end
    of the creator's previous turn without a full stop, glued to the first sentence of the next."""
    for gap in _WORD_GAP.finditer(text, span[0], span[1]):
        if key(text[gap.end():span[1]]) in turns:
            return gap.end()
    return None


def units(text: str, max_words: int, turns: frozenset[str]) -> list[tuple[Span, bool]]:
    """The pieces, each marked True where it opens a speaker turn."""
    out: list[tuple[Span, bool]] = []
    for piece in pieces(text, max_words):
        if not turns:
            out.append((piece, False))
        elif key(text[piece[0]:piece[1]]) in turns:
            out.append((piece, True))
        elif (at := _turn_inside(text, piece, turns)) is not None:
            out += [((piece[0], len(text[:at].rstrip())), False), ((at, piece[1]), True)]
        else:
            out.append((piece, False))
    return out


def cut(text: str, min_words: int, max_words: int, turns: frozenset[str] = frozenset()) -> list[str]:
    """Whole sentences, closed as soon as a passage has `min_words`; a short tail joins the passage before it
    when that stays within `max_words` (otherwise it is a passage of its own, too short to use). A sentence
    whose `key` is in `turns` opens a new passage (a new speaker turn)."""
    found: list[tuple[Span, int]] = []
    current, n = None, 0
    turn_start = 0  # the first passage of the current turn
    for piece, opens_turn in units(text, max_words, turns):
        k = _size(text, piece)
        if opens_turn:
            if current:
                if len(found) > turn_start and found[-1][1] + n <= max_words:
                    found[-1] = ((found[-1][0][0], current[1]), found[-1][1] + n)
                else:
                    found.append((current, n))
                current, n = None, 0
            turn_start = len(found)
        if current and n + k > max_words:
            found.append((current, n))
            current, n = None, 0
        current, n = (current[0] if current else piece[0], piece[1]), n + k
        if n >= min_words:
            found.append((current, n))
            current, n = None, 0
    if current:
        if len(found) > turn_start and found[-1][1] + n <= max_words:
            found[-1] = ((found[-1][0][0], current[1]), found[-1][1] + n)
        else:
            found.append((current, n))
    return [text[s:e] for (s, e), _ in found]


def _opening_question(text: str, openings: dict[str, str | None]) -> str | None:
    first = sentence_spans(text)[:1]
    return openings.get(key(text[first[0][0]:first[0][1]])) if first and openings else None


def language_of(text: str, video_language: str | None, min_probability: float) -> str | None:
    """The passage's own identified language when sure, else its video's."""
    code, probability = identify(text)
    return code if code is not None and probability >= min_probability else video_language


def passages_of(kept: Kept, video_language: str | None, cfg: OwnWords, languages: list[str],
                openings: dict[str, str | None] | None = None) -> tuple[list[Passage], Counter[str]]:
    """The video's usable passages, in order (indices count every cut passage), and the drops by reason;
    `openings` (turns.openings) marks where the creator's turns start and the questions asked before them."""
    usable, dropped = [], Counter()
    openings = openings or {}
    for index, text in enumerate(cut(kept.text, cfg.min_words, cfg.max_words, frozenset(openings))):
        n = len(words(text))
        language = language_of(text, video_language, cfg.min_language_probability)
        if language is None and languages:  # the language first: it is the reason, whatever the size
            dropped["unknown_language"] += 1
        elif not identified_allowed(language, languages):
            dropped["wrong_language"] += 1
        elif n < cfg.min_words:
            dropped["too_short"] += 1
        elif deixis_share(text) > cfg.max_deixis_share:
            dropped["deixis"] += 1
        else:
            usable.append(Passage(id=f"{kept.id}:{index}", video_id=kept.id, video_title=kept.title, index=index,
                                  text=text, words=n, language=language,
                                  question=_opening_question(text, openings), source_sha256=hashlib.sha256(text.encode()).hexdigest()))
    return usable, dropped
