"""Speaker turns from normalize's chunks (pure): where each of the creator's turns starts, and the question
another voice (a host, a guest) asked right before it, a real question that beats a generated one."""

from __future__ import annotations

from tube2lora_shared.records import Normalized
from tube2lora_shared.segmentation import join_text
from tube2lora_shared.textstats import sentences, words

from .gates import is_question


def key(text: str) -> str:
    """A sentence by its words, so a sentence is found again whatever spacing or punctuation it got."""
    return " ".join(w.lower() for w in words(text))


def question_of(turn: str, max_words: int) -> str | None:
    """The question a turn ends with: its last sentences, back from the closing question, up to `max_words`
    words (the closing one always), without a lower-case fragment at its start (the end of the previous
    speaker's sentence, in a transcript segment that ran across both); None when it asks nothing."""
    parts = sentences(turn)
    if not parts or not is_question(parts[-1]):
        return None
    taken, n = [parts[-1]], len(words(parts[-1]))
    for sentence in reversed(parts[:-1]):
        n += len(words(sentence))
        if n > max_words:
            break
        taken.insert(0, sentence)
    while len(taken) > 1 and taken[0][:1].islower():
        taken.pop(0)
    return join_text(taken)


def openings(video: Normalized, max_question_words: int) -> dict[str, str | None]:
    """The first sentence (by `key`) of each creator turn that follows another voice's turn, with the question
    that turn ended with (None: it asked nothing). Empty when the video has no attributed speakers."""
    found: dict[str, str | None] = {}
    other: list[str] = []  # the other voice's turn so far
    for chunk in video.chunks:
        if chunk.is_creator is False:
            other.append(chunk.text)
            continue
        if other:
            first = sentences(chunk.text)
            if first:
                found[key(first[0])] = question_of(join_text(other), max_question_words)
            other = []
    return found
