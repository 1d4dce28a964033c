"""own_words' decisions (pure): per passage, the viewer's question the LLM wrote goes through its gates, then
the curation score; every rejection has its reason, and every accepted passage becomes a chat whose answer
is the passage verbatim (instruction backtranslation with self-curation, Li et al. 2024, "Humpback"). A passage
that answers a question really asked in the video (a host's, a guest's) takes that question instead, when it
passes the same gates: real questions beat generated ones."""

from __future__ import annotations

from dataclasses import dataclass, field

from tube2lora_shared.llm import TRANSIENT, Answer, LLMError
from tube2lora_shared.records import ChatExample, Passage, Provenance

from . import __version__
from .config import OwnWordsGates
from .decisions import Decisions
from .gates import question_failures, question_gate


@dataclass
class Asked:
    """A passage with the question written for it, and whether the question passed its gates."""

    passage: Passage
    question: str | None
    reason: str | None  # why it is rejected: a gate's reason, or question_<LLM error reason>
    metrics: dict = field(default_factory=dict)
    candidate: dict = field(default_factory=dict)
    transient: bool = False  # lost to an LLM error worth asking again on the next run
    reasons: list[str] = field(default_factory=list)  # every gate the question failed, `reason` first
    source: str = "generated"  # or "real": asked in the video
    earlier: list[dict] = field(default_factory=list)  # the questions written before this one, and why each failed

    @property
    def ask_again(self) -> bool:
        """The LLM wrote a question and a gate refused it: asking again, with the reason, may give a usable one."""
        return self.reason is not None and self.question is not None and not self.transient


def _candidate(p: Passage) -> dict:
    return {"id": f"own_words:{p.id}", "generator": "own_words", "video_id": p.video_id, "passage_index": p.index}


def real_questions(passages: list[Passage], g: OwnWordsGates) -> tuple[dict[str, Answer], dict[str, int]]:
    """The passages whose real question passes the question gates, as answers (no LLM asked for these), and the
    real questions turned down by reason (those passages get a generated question instead)."""
    real, turned_down = {}, {}
    for p in passages:
        if not p.question:
            continue
        reason, _ = question_gate(p.question, p.text, g, p.video_title or "", p.language)
        if reason is None:
            real[p.id] = Answer(value=p.question, text=p.question, cached=True)
        else:
            turned_down[reason] = turned_down.get(reason, 0) + 1
    return real, turned_down


def gate_questions(passages: list[Passage], answers: list[Answer | LLMError], g: OwnWordsGates,
                   real: frozenset[str] = frozenset()) -> list[Asked]:
    """Each passage's question (`real`: the ids whose answer is the question asked in the video) through its gates."""
    asked = []
    for p, answer in zip(passages, answers):
        candidate = _candidate(p)
        if p.id in real:
            candidate.update(question_source="real")
        if isinstance(answer, LLMError):
            candidate.update(error=str(answer))
            asked.append(Asked(p, None, f"question_{answer.reason}", {}, candidate, answer.reason in TRANSIENT))
            continue
        if answer.value is None:  # estimate mode: nothing was asked; every passage counts as going to curation
            asked.append(Asked(p, "", None, {}, candidate))
            continue
        candidate.update(question=answer.value, cached=answer.cached)
        failed, metrics = question_failures(answer.value, p.text, g, p.video_title or "", p.language)
        asked.append(Asked(p, answer.value, failed[0] if failed else None, metrics, candidate, reasons=failed,
                           source="real" if p.id in real else "generated"))
    return asked


def again(first: list[Asked], second: list[Asked]) -> list[Asked]:
    """`first` with the passages that were asked again (`second`, in the order of `[a for a in first if
    a.ask_again]`) replaced by their new attempt, which remembers every earlier question and its reason."""
    renewed = iter(second)
    merged = []
    for a in first:
        if not a.ask_again:
            merged.append(a)
            continue
        b = next(renewed)
        b.earlier = [*a.earlier, {"question": a.question, "reason": a.reason}]
        b.candidate["earlier"] = b.earlier
        b.metrics["attempt"] = len(b.earlier) + 1
        merged.append(b)
    return merged


def to_curate(asked: list[Asked]) -> list[Asked]:
    """The passages whose question passed its gates: only these cost a curation call."""
    return [a for a in asked if a.reason is None]


def decide_own_words(asked: list[Asked], scores: list[Answer | LLMError], g: OwnWordsGates, persona: str,
                     prompt: str, model: str, out: Decisions) -> None:
    """Each passage accepted or rejected, into `out`; `scores` answer `to_curate(asked)` in order (none when
    curation is off)."""
    scored = iter(scores)
    for a in asked:
        reason, metrics, candidate, transient = a.reason, dict(a.metrics), dict(a.candidate), a.transient
        if reason is None and g.min_score is not None:
            score = next(scored)
            if isinstance(score, LLMError):
                reason, transient = f"score_{score.reason}", score.reason in TRANSIENT
                candidate.update(score_error=str(score))
            else:
                metrics["score"] = candidate["score"] = score.value
                reason = "low_score" if score.value < g.min_score else None
        p = a.passage
        if reason is None:
            out.examples["own_words"].append(ChatExample(
                messages=[{"role": "system", "content": persona}, {"role": "user", "content": a.question},
                          {"role": "assistant", "content": p.text}],
                provenance=Provenance(generator="own_words", generator_version=__version__, prompt=prompt,
                                      model=model, video_id=p.video_id, video_title=p.video_title,
                                      chunk_index=p.index, source_sha256=p.source_sha256,
                                      question_source=a.source)))
        if transient:
            out.retry_videos.add(p.video_id)
        if a.earlier:
            out.counts["own_words_questions_asked_again"] += 1
        out.candidates.append(candidate)
        reasons = a.reasons or ([reason] if reason else [])
        out.decisions.append({"id": candidate["id"], "generator": "own_words", "accepted": reason is None,
                              "reason": reason, "reasons": reasons, "metrics": metrics})
        out.counts["accepted_own_words" if reason is None else f"rejected_own_words_{reason}"] += 1
        if reason is not None:
            out.rejected[f"own_words: {reason}"] += 1
            out.gates_failed("own_words", reasons)
