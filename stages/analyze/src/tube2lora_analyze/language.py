"""Deterministic language identification (py3langid: a naive Bayes model shipped in the package)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def identify(text: str) -> tuple[str | None, float]:
    """(ISO 639-1 code, probability); (None, 0.0) for text without letters."""
    if not any(ch.isalpha() for ch in text):
        return None, 0.0
    code, probability = _identifier().classify(text)
    return code, round(float(probability), 4)
