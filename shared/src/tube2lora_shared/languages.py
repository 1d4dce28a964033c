"""Language allowlists (`en` accepts `en`, `en-GB`, `en-US`; an empty allowlist accepts everything), language
names for prompts, and deterministic language identification (py3langid, the `langid` extra: a naive Bayes
model inside the package).

Codes are compared by their primary subtag, with the codes that name one language made one: YouTube still says
`iw` for Hebrew, whisper says `jw` for Javanese (py3langid: `jv`), Norwegian is `no`, `nb` or `nn` depending on
who asks (py3langid tells `no` from `nn` unreliably on short texts). An identified code is also compared as the
language its text is written in: py3langid names varieties (`arz` Egyptian Arabic, `yue` Cantonese, `wuu` Wu,
`hbo` Biblical Hebrew...) where a transcript or an allowlist names the language. A language py3langid does not
know (Yiddish, Maori, Hawaiian, Sundanese, Tibetan, Sindhi...) cannot be identified: no check that needs it
is made (`identifiable`)."""

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


# The same language under two codes: withdrawn ISO 639-1 codes, whisper's `jw`, Norwegian's written standards,
# YouTube's `fil` (Filipino, written as Tagalog).
ALIASES = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro", "nb": "no", "nn": "no", "fil": "tl"}
# py3langid's varieties, compared as the language their text is written in (when identified text is checked).
WRITTEN_AS = {"ary": "ar", "arz": "ar", "hbo": "he", "grc": "el", "uzs": "uz", "sdh": "ku", "yue": "zh", "wuu": "zh",
              "ltg": "lv"}


def primary(code: str) -> str:
    """The code's language: `en` for `en-GB`, `he` for YouTube's `iw`, `no` for `nb` and `nn`."""
    subtag = code.replace("_", "-").split("-", 1)[0].lower()
    return ALIASES.get(subtag, subtag)


def written(code: str) -> str:
    """The language a text in `code` is written in, as identification compares it (`zh` for `yue`)."""
    return WRITTEN_AS.get(primary(code), primary(code))


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


def identified_allowed(code: str | None, allowlist: Iterable[str]) -> bool:
    """`allowed` for a code from `identify`: compared as written languages."""
    allow = [written(a) for a in allowlist]
    return not allow or (code is not None and written(code) in allow)


def identifiable(code: str) -> bool:
    """Whether `identify` can name this language at all (py3langid knows 140-odd languages and varieties, not
    all of whisper's 99)."""
    return written(code) in _known()


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(written(c) for c in _identifier().nb_classes)


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
    `expected`; None when it is in `expected`, unsure, nothing is expected, or `expected` is a language
    identification does not know. A gate for LLM answers."""
    if not expected or not identifiable(expected):
        return None
    code, probability = identify(text)
    return code if code is not None and probability >= min_probability and written(code) != written(expected) else None
