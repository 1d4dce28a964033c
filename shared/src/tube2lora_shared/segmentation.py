"""Words and sentences in any script: the one segmentation every stage counts, compares and cuts text with.

A word is a run of letters, combining marks and digits of any script (`regex`'s Unicode properties: "Größe",
"привет", "नमस्ते" and "مرحبا" are one word each), with inner apostrophes kept ("don't"). Chinese and Japanese
write without spaces, and real word segmentation needs a dictionary per language (MeCab, jieba): here each
Han, Hiragana or Katakana character is one word, so a word count of CJK text counts characters, n-grams are
character n-grams (the usual unit for CJK near-duplicates and copy checks) and nothing is ever lost. Thai,
Lao, Khmer and Myanmar also write without spaces and are not split further: a run between spaces or
punctuation counts as one word there.

A sentence ends at `.`, `!`, `?`, `؟` (Arabic), `।` (Devanagari), `۔` (Urdu) followed by white space and a
capital letter, a digit or a letter of a script without case (so "e.g. this" stays one sentence, as before),
or at the full-width `。！？`, where no space follows. Closing quotes and brackets stay with their sentence.
"""

from __future__ import annotations

import regex

_SPACELESS = r"\p{Han}\p{Hiragana}\p{Katakana}\u30FC\u3005\u3006"  # ー (long vowel), 々 (repeat), 〆
_LETTER = rf"[[\p{{L}}\p{{M}}]--[{_SPACELESS}]]"
_WORD = regex.compile(rf"[{_SPACELESS}]|(?:{_LETTER}|\p{{N}})+(?:['’]{_LETTER}+)*", regex.V1)
_IDEOGRAPHIC = regex.compile(r"[\p{Han}\p{Katakana}\u30FC\u3005]", regex.V1)
_CLOSERS = "\"')\\]»”’」』）】"
_SENTENCE_GAP = regex.compile(  # group 1: the gap between two sentences (empty after 。！？)
    rf"(?<=[.!?؟।۔])[{_CLOSERS}]*(\s+)(?=[\p{{Lu}}\p{{Lt}}\p{{Lo}}\p{{N}}\"'(“‘«¿¡「『（])"
    rf"|(?<=[。！？])[{_CLOSERS}]*(\s*)(?=\S)", regex.V1)
_CJK_EDGE = regex.compile(rf"[{_SPACELESS}\u3000-\u303F\uFF01-\uFF60]")  # CJK characters and CJK punctuation


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word of `words(text)` in `text`."""
    return [m.span() for m in _WORD.finditer(text)]


def ideographic(word: str) -> bool:
    """A Han or Katakana character: the CJK characters that carry content (Hiragana mostly carries grammar)."""
    return _IDEOGRAPHIC.fullmatch(word) is not None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, closing quotes included: `text[start:end]` is the sentence
    verbatim, so a run of sentences can be cut out of a text without changing a character."""
    spans, start = [], len(text) - len(text.lstrip())
    for gap in _SENTENCE_GAP.finditer(text):
        group = 1 if gap.start(1) >= 0 else 2
        if gap.start(group) > start:
            spans.append((start, gap.start(group)))
        start = gap.end(group)
    end = len(text.rstrip())
    if end > start:
        spans.append((start, end))
    return spans


def sentences(text: str) -> list[str]:
    return [s for s in (text[a:b].strip() for a, b in sentence_spans(text)) if s]


def join_text(parts: list[str]) -> str:
    """Pieces of one text (sentences, caption lines, chunks) joined with a space, except between two CJK
    characters or CJK punctuation ("ホイールを" + "外します。" stays "ホイールを外します。"): Chinese and Japanese
    put no space there, and a space the pipeline added would end up in the training text."""
    out = ""
    for part in parts:
        if out and part and not (_CJK_EDGE.match(out[-1]) and _CJK_EDGE.match(part[0])):
            out += " "
        out += part
    return out


def collapse_space(text: str) -> str:
    """`text` with every run of white space (line breaks included) made one space, and none left between two
    CJK characters or CJK punctuation: a caption's line break inside a Japanese sentence is no space."""
    return join_text(text.split())
