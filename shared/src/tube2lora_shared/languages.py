"""Language allowlists (`en` accepts `en`, `en-GB`, `en-US`; an empty allowlist accepts everything) and
deterministic language identification (py3langid, the `langid` extra: a naive Bayes model inside the package)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache


def primary(code: str) -> str:
    return code.replace("_", "-").split("-", 1)[0].lower()


def allowed(code: str | None, allowlist: Iterable[str]) -> bool:
    allow = [primary(a) for a in allowlist]
    return not allow or (code is not None and primary(code) in allow)


def first_allowed(codes: Iterable[str], allowlist: Iterable[str]) -> str | None:
    """The first code that matches the allowlist, in the allowlist's order of preference."""
    codes = list(codes)
    for wanted in allowlist:
        for code in codes:
            if primary(code) == primary(wanted):
                return code
    return codes[0] if codes and not list(allowlist) else None


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
