"""Burrows' Delta (pure): a stylometric distance between texts over the most frequent words.

Burrows (2002): take the corpus's `n` most frequent words; standardise each text's relative frequency of
each word by the mean and standard deviation of that frequency across the corpus's documents (z-scores);
Delta between two texts is the mean absolute difference of their z-scores. 0 is the same style profile;
differences of about 1 separate authors in Burrows' data. Here the corpus is the creator's training passages,
so a unit is "one typical passage-to-passage spread of the creator's own usage".

faststylometry (MIT) implements the same, but its Corpus is built for many authors and books, it pulls
pandas, scikit-learn and wget, and its package import downloads helpers; these 30 lines need none of them.
"""

from __future__ import annotations

from collections import Counter
from statistics import fmean, stdev

from tube2lora_shared.textstats import words


def _frequencies(text: str, vocabulary: list[str]) -> list[float]:
    counts = Counter(w.lower() for w in words(text))
    total = sum(counts.values()) or 1
    return [counts[w] / total for w in vocabulary]


def top_words(corpus: list[str], n: int) -> list[str]:
    counts = Counter(w.lower() for text in corpus for w in words(text))
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def burrows_delta(corpus: list[str], reference: str, texts: dict[str, str], n: int = 50) -> dict[str, float | None]:
    """Delta of each text to the reference, standardised over the corpus's documents (at least two);
    None for a text without words, or for all when the corpus cannot give a spread."""
    documents = [doc for doc in corpus if words(doc)]
    if len(documents) < 2 or not words(reference):
        return {name: None for name in texts}
    vocabulary = top_words(documents, n)
    columns = list(zip(*(_frequencies(doc, vocabulary) for doc in documents)))
    kept = [(i, fmean(c), stdev(c)) for i, c in enumerate(columns) if stdev(c) > 0]
    if not kept:
        return {name: None for name in texts}

    def z(text: str) -> list[float]:
        freqs = _frequencies(text, vocabulary)
        return [(freqs[i] - mean) / sd for i, mean, sd in kept]

    target = z(reference)
    return {name: round(fmean(abs(a - b) for a, b in zip(z(text), target)), 4) if words(text) else None
            for name, text in texts.items()}
