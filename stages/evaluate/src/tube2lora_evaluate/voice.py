"""Does an answer sound like the creator (pure): signature-phrase ratio, copied runs, repetition, identity.

Each measure compares base's and adapter's answers to held-out questions with the creator's real answers
(the held-out passages those questions were written for), so every figure has the creator's own beside it.
"""

from __future__ import annotations

from collections import Counter

from tube2lora_shared.segmentation import sentences, words
from tube2lora_shared.textstats import copied_words
from tube2lora_shared.textstats import word_ngrams as ngram_set

from .delta import burrows_delta
from .style import phrase_rate

CARICATURE, TOO_LITTLE = 2.0, 0.5  # phrase-rate ratios to the creator's outside which the voice is off
LOOP_SHARE = 0.2  # an answer whose repeated 4-grams are at least this share of its 4-grams is looping


def phrase_ratio(answers: list[str], reference_rate: float, phrases: list[str]) -> dict:
    """The answers' signature-phrase rate (per 100 words) as a ratio to the creator's, with a flag:
    "caricature" above 2, "too little" below 0.5, "ok" between; the ratio is None without a reference."""
    rate = phrase_rate(" ".join(answers), phrases)
    if not reference_rate:
        return {"rate": rate, "ratio": None, "flag": "no signature phrases"}
    ratio = round(rate / reference_rate, 3)
    flag = "caricature" if ratio > CARICATURE else "too little" if ratio < TOO_LITTLE else "ok"
    return {"rate": rate, "ratio": ratio, "flag": flag}


def copied_share(answers: list[str], training: set[tuple[str, ...]], n: int) -> float | None:
    """Share of the answers' words that lie inside an n-word run found in the training text (ngram_set
    with the same n): 0 for new wording, 1 for answers pasted from training. None without words."""
    counts = [copied_words(answer, training, n) for answer in answers]
    covered, total = sum(c for c, _ in counts), sum(t for _, t in counts)
    return round(covered / total, 4) if total else None


def repeated_share(text: str, n: int = 4) -> float:
    """Share of the text's word n-grams that already occurred earlier in it (0 for no repetition)."""
    w = [x.lower() for x in words(text)]
    grams = [tuple(w[i:i + n]) for i in range(len(w) - n + 1)]
    return round(1 - len(set(grams)) / len(grams), 4) if grams else 0.0


def loop_example(text: str, n: int = 4) -> str:
    """What a looping answer repeats: its most repeated sentence, else its most repeated n-gram."""
    counted = Counter(s.strip() for s in sentences(text))
    sentence, times = counted.most_common(1)[0] if counted else ("", 0)
    if times > 1:
        return f"{sentence!r} x{times}"
    w = [x.lower() for x in words(text)]
    gram, times = Counter(" ".join(w[i:i + n]) for i in range(len(w) - n + 1)).most_common(1)[0]
    return f"{gram!r} x{times}"


def repetition(answers: list[str], n: int = 4) -> dict:
    """Mean repeated n-gram share per answer, how many answers loop (LOOP_SHARE or more), and an example."""
    shares = [repeated_share(a, n) for a in answers]
    looping = [a for a, s in zip(answers, shares) if s >= LOOP_SHARE]
    return {"mean": round(sum(shares) / len(shares), 4) if shares else None, "looping": len(looping),
            "example": loop_example(max(looping, key=lambda a: repeated_share(a, n)), n) if looping else None}


def identical(base: list[str], adapter: list[str]) -> dict:
    """How many adapter answers are the base's, word for word (surrounding whitespace aside)."""
    return {"count": sum(a.strip() == b.strip() for a, b in zip(base, adapter)), "of": min(len(base), len(adapter))}


def _phrases(real: list[str], answers: dict[str, list[str]], training: list[str], phrases: list[str]) -> dict:
    held_out_rate = phrase_rate(" ".join(real), phrases)
    reference_rate, source = ((held_out_rate, "held-out answers") if held_out_rate
                              else (phrase_rate(" ".join(training), phrases), "training text"))
    return {"creator_rate": reference_rate, "creator_rate_from": source,
            **{side: phrase_ratio(texts, reference_rate, phrases) for side, texts in answers.items()}}


def figures(real: list[str], answers: dict[str, list[str]], training: list[str], phrases: list[str] | None,
            copy_ngram: int = 8, delta_words: int = 50) -> dict:
    """Every voice measure of base's and adapter's answers (`answers`: side -> texts, in the order of the
    real answers), with the creator's real held-out answers beside each; `training` is the training text.
    `phrases` None: signature phrases are not available in the creator's language (`phrases` is then None)."""
    grams = ngram_set(training, copy_ngram)
    return {
        "answers": len(real),
        "phrases": None if phrases is None else _phrases(real, answers, training, phrases),
        "copied": {"run_words": copy_ngram, "creator": copied_share(real, grams, copy_ngram),
                   **{side: copied_share(texts, grams, copy_ngram) for side, texts in answers.items()}},
        "delta": {"words": delta_words, **burrows_delta(training, " ".join(real),
                                                        {side: " ".join(t) for side, t in answers.items()},
                                                        delta_words)},
        "repetition": {"creator": repetition(real), **{side: repetition(t) for side, t in answers.items()}},
        "identical": identical(answers.get("base", []), answers.get("adapter", [])),
    }
