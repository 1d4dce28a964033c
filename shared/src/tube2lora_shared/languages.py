"""Language allowlists (`en` accepts `en`, `en-GB`, `en-US`; an empty allowlist accepts everything), language
names for prompts, and deterministic language identification (py3langid, the `langid` extra: a naive Bayes
model inside the package)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache


NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
         "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish",
         "cs": "Czech", "ru": "Russian", "uk": "Ukrainian", "tr": "Turkish", "ja": "Japanese", "ko": "Korean",
         "zh": "Chinese", "ar": "Arabic", "hi": "Hindi", "el": "Greek", "he": "Hebrew", "fa": "Persian",
         "id": "Indonesian", "vi": "Vietnamese", "th": "Thai", "hu": "Hungarian", "ro": "Romanian", "bg": "Bulgarian"}


def name(code: str | None, unknown: str) -> str:
    """The language's English name for a prompt ("Russian" for `ru-RU`); the code itself when it has no name
    here, `unknown` without a code."""
    return NAMES.get(primary(code), code) if code else unknown


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


def foreign(text: str, expected: str | None, min_probability: float) -> str | None:
    """The language `text` is in when it is surely (identified with at least `min_probability`) another one than
    `expected`; None when it is in `expected`, unsure, or nothing is expected. A gate for LLM answers."""
    if not expected:
        return None
    code, probability = identify(text)
    return code if code is not None and probability >= min_probability and code != primary(expected) else None
