"""Quality gates for generated examples (pure). Each `*_failures` checks every gate and returns (the reasons of
all that failed, the reason to report first; metrics); each `*_gate` returns (that first reason or None,
metrics). An answer in another language than its source fails `wrong_language`, which comes first: it explains
the other failures (an English question shares no word with a Russian passage). Words in any script (shared
segmentation: a CJK character is a word)."""

from __future__ import annotations

import regex

from tube2lora_shared.languages import foreign
from tube2lora_shared.segmentation import ideographic, words
from tube2lora_shared.textstats import copied_words, similarity, word_ngrams

from .config import BriefGates, OwnWordsGates, TalkGates


def _language(text: str, language: str | None, min_probability: float | None, metrics: dict) -> list[str]:
    """["wrong_language"] (and the language found, in metrics) when the text is surely not in `language`."""
    found = foreign(text, language, min_probability) if min_probability is not None else None
    if found is None:
        return []
    metrics["wrong_language"] = found
    return ["wrong_language"]


def _first(failed: list[str], metrics: dict) -> tuple[str | None, dict]:
    return (failed[0] if failed else None), metrics


def copy_share(answer: str, source: str, n: int) -> float:
    """Share of the answer's words inside word n-grams that also occur in the source. Unlike a character
    ratio, it does not shrink when the answer is much shorter than the source: a pasted passage scores 1."""
    covered, total = copied_words(answer, word_ngrams([source], n), n)
    return covered / total if total >= n else 0.0


def novel_ratio(answer: str, source: str) -> float:
    vocabulary = {w.lower() for w in words(source)}
    a = [w.lower() for w in words(answer)]
    return sum(w not in vocabulary for w in a) / len(a) if a else 0.0


def talk_failures(turns: list[dict[str, str]], source: str, clarify: bool, g: TalkGates,
                  language: str | None = None) -> tuple[list[str], dict]:
    answers = [t["content"] for t in turns if t["role"] == "assistant"]
    joined = " ".join(answers)
    lengths = [len(words(a)) for a in answers]
    echoes = [similarity(q["content"], a["content"]) for q, a in zip(turns, turns[1:])
              if q["role"] == "user" and a["role"] == "assistant"]
    metrics = {"copy_share": round(copy_share(joined, source, g.copy_ngram), 4),
               "novel_ratio": round(novel_ratio(joined, source), 4), "answer_words": lengths,
               "echo_similarity": round(max(echoes, default=0.0), 4)}
    failed = _language(" ".join(t["content"] for t in turns), language, g.language_probability, metrics)
    checks = [("echoed_question", metrics["echo_similarity"] > g.max_echo_similarity),
              ("copied_source", metrics["copy_share"] > g.max_copy_share),
              ("not_novel", metrics["novel_ratio"] < g.min_novel_ratio),
              ("answer_too_short", min(lengths) < g.min_answer_words),
              ("answer_too_long", max(lengths) > g.max_answer_words),
              ("missing_clarifying_question", clarify and not any(m in answers[0] for m in "?？؟"))]
    return failed + [reason for reason, fails in checks if fails], metrics


def talk_gate(turns: list[dict[str, str]], source: str, clarify: bool, g: TalkGates,
              language: str | None = None) -> tuple[str | None, dict]:
    return _first(*talk_failures(turns, source, clarify, g, language))


_ENTITY = regex.compile(r"(?<![.!?]\s)(?<!^)\b\p{Lu}\p{Ll}{2,}\b")  # a capitalised word inside a sentence


def new_entities(output: str, source: str) -> set[str]:
    known = {w.lower() for w in words(source)}
    return {m for m in _ENTITY.findall(output) if m.lower() not in known}


def edit_failures(brief: str, source: str, output: str, g: BriefGates | None,
                  language: str | None = None) -> tuple[list[str], dict]:
    ratio = len(words(output)) / max(1, len(words(source)))
    metrics = {"length_ratio": round(ratio, 4), "similarity": round(similarity(source, output), 4),
               "new_entities": sorted(new_entities(output, source))}
    if g is None:
        return [], metrics
    failed = _language(output, language, g.language_probability, metrics)
    checks = [("too_short_for_brief", g.min_ratio is not None and ratio < g.min_ratio),
              ("too_long_for_brief", g.max_ratio is not None and ratio > g.max_ratio),
              ("drifted_from_input", g.min_similarity is not None and metrics["similarity"] < g.min_similarity),
              ("unchanged", g.max_similarity is not None and metrics["similarity"] > g.max_similarity),
              ("invented_entities", g.max_new_entities is not None
               and len(metrics["new_entities"]) > g.max_new_entities)]
    return failed + [reason for reason, fails in checks if fails], metrics


def edit_gate(brief: str, source: str, output: str, g: BriefGates | None,
              language: str | None = None) -> tuple[str | None, dict]:
    return _first(*edit_failures(brief, source, output, g, language))


# How questions open, in the languages the project meets most.
_ASKING = regex.compile(
    r"^(?:[¿¡\"'(]\s*)?(?:\w+\s*,\s*)?"  # an optional address first: "Toby, how do I ...?"
    r"(?:what|what's|why|how|how's|when|where|who|whom|whose|which|can|could|should|would|will|do|does|did|"
    r"is|are|was|were|am|have|has|had|may|might|must|shall|any|isn't|aren't|don't|doesn't|didn't|"
    r"qu[eé]|por\s?qu[eé]|c[oó]mo|cu[aá]ndo|d[oó]nde|qui[eé]n|cu[aá]l|pourquoi|comment|quand|o[uù]|qui|quel|"
    r"est-ce|warum|wie|was|wann|wo|wer|welche[rsnm]?|kann|soll|perch[eé]|come|quando|dove|chi|quale|"
    r"waarom|hoe|wat|wanneer|waar|wie)\b", regex.I)


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


def _pairs(w: list[str]) -> set[str]:
    """In Chinese and Japanese, where a word is a character, the content words are the pairs of neighbouring Han
    or Katakana characters ("ブレ", "調整")."""
    return {a + b for a, b in zip(w, w[1:]) if ideographic(a) and ideographic(b)}


def shared_words(question: str, passage: str) -> int:
    """How many distinct content words (4+ letters, not generic, plural folded; CJK: character pairs) of the
    question the passage also uses: a question about nothing in the passage ("What is the answer to this
    question?") shares none."""
    q, w = words(question), words(passage)
    known = {_stem(x) for x in w} | _pairs(w)
    asked = {_stem(x) for x in q if len(x) >= 4 and x.lower() not in _GENERIC} | _pairs(q)
    return len(asked & known - {_stem(x) for x in _GENERIC})


# Each reason of question_gate in words: what the LLM is told when it is asked for another question.
REFUSED_BECAUSE = {"wrong_language": "it is not in the passage's language",
                   "not_a_question": "it is not a question",
                   "question_too_short": "it is too short to say what the viewer wants to know",
                   "question_too_long": "it is too long: one short question only",
                   "question_quotes_answer": "it copies the answer's own sentences",
                   "off_topic": "it does not name anything the passage or its video is about"}


def question_failures(question: str, passage: str, g: OwnWordsGates, title: str = "",
                      language: str | None = None) -> tuple[list[str], dict]:
    """A viewer's question for a passage: in the passage's language, a question, of a sensible length, about the
    passage or the video it is from (a question naming the video's topic, "How do I put my bike away for winter?",
    is on topic for every passage of "Winter storage"), that does not quote the answer."""
    n = len(words(question))
    metrics = {"question_words": n, "copy_share": round(copy_share(question, passage, g.copy_ngram), 4),
               "shared_words": shared_words(question, f"{passage}\n{title}")}
    failed = _language(question, language, g.language_probability, metrics)
    checks = [("not_a_question", not is_question(question)),
              ("question_too_short", n < g.min_question_words),
              ("question_too_long", n > g.max_question_words),
              ("question_quotes_answer", metrics["copy_share"] > g.max_copy_share),
              ("off_topic", metrics["shared_words"] < g.min_shared_words)]
    return failed + [reason for reason, fails in checks if fails], metrics


def question_gate(question: str, passage: str, g: OwnWordsGates, title: str = "",
                  language: str | None = None) -> tuple[str | None, dict]:
    return _first(*question_failures(question, passage, g, title, language))
