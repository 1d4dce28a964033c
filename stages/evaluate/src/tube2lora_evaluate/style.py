"""Style measurements (pure): function-word profile divergence, sentence lengths, MATTR, signature phrases.

Words and sentences in any script (shared segmentation). The function-word profile and the signature phrases
(which skip n-grams of function words only) need a function-word list of the creator's language: English has
one; in any other language both are None, shown as "n/a (language xx)", never an English list applied to it.
"""

from __future__ import annotations

import math
from collections import Counter

from tube2lora_shared.languages import primary
from tube2lora_shared.segmentation import sentences, words
from tube2lora_shared.textstats import mattr

FUNCTION_WORDS = ("the a an and but or so if then because as of in on at to for with from by about into over "
                  "after before up down out off just really very also too not no never always here there this "
                  "that these those it its i you he she we they me him her us them my your our their what which "
                  "who when where why how all any some every each more most much many can will would should "
                  "could do does did is are was were be been have has had get got like well oh okay right yeah "
                  "now").split()
FUNCTION_WORD_LISTS = {"en": FUNCTION_WORDS}  # by language; add one to measure that language


def has_function_words(language: str | None) -> bool:
    """Whether the language-bound measures can be computed; a text of unknown language counts as English."""
    return primary(language or "en") in FUNCTION_WORD_LISTS


def function_profile(text: str, language: str | None = "en") -> list[float] | None:
    """Relative frequencies of the language's function words; None in a language without a list."""
    if not has_function_words(language):
        return None
    vocabulary = FUNCTION_WORD_LISTS[primary(language or "en")]
    counts = Counter(w.lower() for w in words(text))
    total = sum(counts[w] for w in vocabulary) or 1
    return [counts[w] / total for w in vocabulary]


def js_divergence(p: list[float] | None, q: list[float] | None) -> float | None:
    """Jensen-Shannon divergence in bits: 0 for identical profiles, 1 at most; None without both profiles."""
    if p is None or q is None:
        return None
    m = [(a + b) / 2 for a, b in zip(p, q)]

    def kl(x, y):
        return sum(a * math.log2(a / b) for a, b in zip(x, y) if a > 0 and b > 0)

    return round(0.5 * kl(p, m) + 0.5 * kl(q, m), 4)


def sentence_lengths(text: str) -> dict[str, float]:
    lengths = [len(words(s)) for s in sentences(text)] or [0]
    mean = sum(lengths) / len(lengths)
    std = math.sqrt(sum((x - mean) ** 2 for x in lengths) / len(lengths))
    return {"mean": round(mean, 2), "std": round(std, 2)}


def signature_phrases(texts_by_video: dict[str, str], sizes: list[int], min_videos: int, top: int) -> list[str]:
    """Word n-grams recurring across the most training videos: the creator's catch phrases."""
    seen: Counter[str] = Counter()
    for text in texts_by_video.values():
        tokens = [w.lower() for w in words(text)]
        grams = {" ".join(tokens[i:i + n]) for n in sizes for i in range(len(tokens) - n + 1)}
        seen.update(grams)
    ranked = [g for g, c in seen.most_common() if c >= min_videos and any(w not in FUNCTION_WORDS for w in g.split())]
    chosen: list[str] = []
    covered: set[tuple[str, str]] = set()  # word pairs already inside a chosen phrase
    for gram in sorted(ranked, key=lambda g: (-seen[g], -len(g))):
        tokens = gram.split()
        pairs = set(zip(tokens, tokens[1:]))
        if len(pairs & covered) * 2 > len(pairs):  # mostly a shifted copy of a phrase already chosen
            continue
        chosen.append(gram)
        covered |= pairs
        if len(chosen) == top:
            break
    return chosen


def phrase_rate(text: str, phrases: list[str]) -> float:
    """Signature phrases said per 100 words: whole words only ("so the chain" is not in "so the chains"),
    and phrases that overlap in the text are one saying ("toby here let's get our" and "let's get our hands
    dirty" in one greeting count once, as they would for the listener)."""
    tokens = [w.lower() for w in words(text)]
    grams = [p.split() for p in phrases]
    spans = sorted((i, i + len(g)) for g in grams if g for i in range(len(tokens) - len(g) + 1)
                   if tokens[i:i + len(g)] == g)
    said, end = 0, -1
    for start, stop in spans:
        said += start >= end  # a span that starts after the last one ended is a new saying
        end = max(end, stop) if start < end else stop
    return round(100 * said / len(tokens), 3) if tokens else 0.0


def profile(text: str, reference_profile: list[float] | None, phrases: list[str] | None,
            language: str | None = "en") -> dict:
    """The style measures of a text; the function-word divergence and the phrase rate are None where they are
    not available (`phrases` None, or a language without function words)."""
    return {"function_word_js": js_divergence(function_profile(text, language), reference_profile),
            "sentence_words": sentence_lengths(text), "mattr": round(mattr(text), 4),
            "signature_phrases_per_100_words": None if phrases is None else phrase_rate(text, phrases),
            "words": len(words(text))}
