"""Quality gates for generated examples (pure). Each returns (reason or None, metrics)."""

from __future__ import annotations

import re

from tube2lora_shared.textstats import copied_words, similarity, word_ngrams, words

from .config import BriefGates, OwnWordsGates, TalkGates


def copy_share(answer: str, source: str, n: int) -> float:
    """Share of the answer's words inside word n-grams that also occur in the source. Unlike a character
    ratio, it does not shrink when the answer is much shorter than the source: a pasted passage scores 1."""
    covered, total = copied_words(answer, word_ngrams([source], n), n)
    return covered / total if total >= n else 0.0


def novel_ratio(answer: str, source: str) -> float:
    vocabulary = {w.lower() for w in words(source)}
    a = [w.lower() for w in words(answer)]
    return sum(w not in vocabulary for w in a) / len(a) if a else 0.0


def talk_gate(turns: list[dict[str, str]], source: str, clarify: bool, g: TalkGates) -> tuple[str | None, dict]:
    answers = [t["content"] for t in turns if t["role"] == "assistant"]
    joined = " ".join(answers)
    lengths = [len(words(a)) for a in answers]
    echoes = [similarity(q["content"], a["content"]) for q, a in zip(turns, turns[1:])
              if q["role"] == "user" and a["role"] == "assistant"]
    metrics = {"copy_share": round(copy_share(joined, source, g.copy_ngram), 4),
               "novel_ratio": round(novel_ratio(joined, source), 4), "answer_words": lengths,
               "echo_similarity": round(max(echoes, default=0.0), 4)}
    if metrics["echo_similarity"] > g.max_echo_similarity:
        return "echoed_question", metrics
    if metrics["copy_share"] > g.max_copy_share:
        return "copied_source", metrics
    if metrics["novel_ratio"] < g.min_novel_ratio:
        return "not_novel", metrics
    if min(lengths) < g.min_answer_words:
        return "answer_too_short", metrics
    if max(lengths) > g.max_answer_words:
        return "answer_too_long", metrics
    if clarify and "?" not in answers[0]:
        return "missing_clarifying_question", metrics
    return None, metrics


_ENTITY = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}\b")


def new_entities(output: str, source: str) -> set[str]:
    known = {w.lower() for w in words(source)}
    return {m for m in _ENTITY.findall(output) if m.lower() not in known}


def edit_gate(brief: str, source: str, output: str, g: BriefGates | None) -> tuple[str | None, dict]:
    ratio = len(words(output)) / max(1, len(words(source)))
    metrics = {"length_ratio": round(ratio, 4), "similarity": round(similarity(source, output), 4),
               "new_entities": sorted(new_entities(output, source))}
    if g is None:
        return None, metrics
    if g.min_ratio is not None and ratio < g.min_ratio:
        return "too_short_for_brief", metrics
    if g.max_ratio is not None and ratio > g.max_ratio:
        return "too_long_for_brief", metrics
    if g.min_similarity is not None and metrics["similarity"] < g.min_similarity:
        return "drifted_from_input", metrics
    if g.max_similarity is not None and metrics["similarity"] > g.max_similarity:
        return "unchanged", metrics
    if g.max_new_entities is not None and len(metrics["new_entities"]) > g.max_new_entities:
        return "invented_entities", metrics
    return None, metrics


# How questions open, in the languages the project meets most.
_ASKING = re.compile(
    r"^(?:[¿¡\"'(]\s*)?(?:\w+\s*,\s*)?"  # an optional address first: "Toby, how do I ...?"
    r"(?:what|what's|why|how|how's|when|where|who|whom|whose|which|can|could|should|would|will|do|does|did|"
    r"is|are|was|were|am|have|has|had|may|might|must|shall|any|isn't|aren't|don't|doesn't|didn't|"
    r"qu[eé]|por\s?qu[eé]|c[oó]mo|cu[aá]ndo|d[oó]nde|qui[eé]n|cu[aá]l|pourquoi|comment|quand|o[uù]|qui|quel|"
    r"est-ce|warum|wie|was|wann|wo|wer|welche[rsnm]?|kann|soll|perch[eé]|come|quando|dove|chi|quale|"
    r"waarom|hoe|wat|wanneer|waar|wie)\b", re.I)


def is_question(text: str) -> bool:
    """Ends with a question mark (any script's), or opens like a question and does not end as a statement
    ("Do this every week." is an instruction)."""
    stripped = text.strip().rstrip("\"')»” ")
    if stripped.endswith(("?", "？", "؟")):
        return True
    return _ASKING.match(text.strip()) is not None and not stripped.endswith((".", "!", "。"))


# Words any question may use whatever it asks about ("What is the answer to this question?").
_GENERIC = {"what", "when", "where", "which", "does", "your", "this", "that", "with", "have", "from", "they", "them",
            "then", "than", "into", "about", "answer", "question", "should", "would", "could", "there", "their",
            "thing", "think", "really", "other", "something", "anything", "everything", "text", "using", "given",
            "will", "just", "like", "make", "made", "know", "want", "need", "best", "good", "right", "some", "more",
            "most", "very", "much", "many", "also", "only", "even", "over", "after", "before", "here", "these",
            "those", "been", "were", "being", "tell", "explain", "video", "viewer"}


def _stem(word: str) -> str:
    word = word.lower().removesuffix("'s").removesuffix("\u2019s")
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def shared_words(question: str, passage: str) -> int:
    """How many distinct content words (4+ letters, not generic, plural folded) of the question the passage
    also uses: a question about nothing in the passage ("What is the answer to this question?") shares none."""
    known = {_stem(w) for w in words(passage)}
    asked = {_stem(w) for w in words(question) if len(w) >= 4 and w.lower() not in _GENERIC}
    return len(asked & known - {_stem(w) for w in _GENERIC})


# Each reason of question_gate in words: what the LLM is told when it is asked for another question.
REFUSED_BECAUSE = {"not_a_question": "it is not a question",
       "question_too_short": "it is too short to say what the viewer wants to know",
       "question_too_long": "it is too long: one short question only",
       "question_quotes_answer": "it copies the answer's own sentences",
       "off_topic": "it does not name anything the passage or its video is about"}


def question_gate(question: str, passage: str, g: OwnWordsGates, title: str = "") -> tuple[str | None, dict]:
    """A viewer's question for a passage: a question, of a sensible length, about the passage or the video it is
    from (a question naming the video's topic, "How do I put my bike away for winter?", is on topic for every passage
    of "Winter storage"), that does not quote the answer."""
    n = len(words(question))
    metrics = {"question_words": n, "copy_share": round(copy_share(question, passage, g.copy_ngram), 4),
               "shared_words": shared_words(question, f"{passage}\n{title}")}
    if not is_question(question):
        return "not_a_question", metrics
    if n < g.min_question_words:
        return "question_too_short", metrics
    if n > g.max_question_words:
        return "question_too_long", metrics
    if metrics["copy_share"] > g.max_copy_share:
        return "question_quotes_answer", metrics
    if metrics["shared_words"] < g.min_shared_words:
        return "off_topic", metrics
    return None, metrics
