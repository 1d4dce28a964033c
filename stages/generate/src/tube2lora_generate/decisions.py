"""What becomes of each answer (pure): a candidate row, a decision (accepted, or rejected with the gate's
reason and its metrics) and, when accepted, a training example with its provenance."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from tube2lora_shared.llm import TRANSIENT, Answer, LLMError
from tube2lora_shared.prompts import PromptTemplate
from tube2lora_shared.records import ChatExample, EditExample, Provenance

from . import __version__
from .config import GenerateConfig
from .gates import edit_failures, talk_failures
from .tasks import Task


@dataclass
class Decisions:
    candidates: list[dict] = field(default_factory=list)  # every answer, parsed or not
    decisions: list[dict] = field(default_factory=list)  # accepted or rejected, with reason and metrics
    examples: dict[str, list] = field(default_factory=lambda: {"own_words": [], "talk_as_creator": [],
                                                               "editorial_rewrite": []})
    counts: Counter[str] = field(default_factory=Counter)  # accepted_<generator>, rejected_<generator>_<reason>
    rejected: Counter[str] = field(default_factory=Counter)  # "<generator>: <reason>"
    retry_videos: set[str] = field(default_factory=set)  # videos with answers lost to transient LLM errors
    failed_gates: Counter[str] = field(default_factory=Counter)  # gate_failed_<generator>_<reason>: every gate

    @property
    def accepted(self) -> int:
        return sum(len(v) for v in self.examples.values())

    def gates_failed(self, generator: str, reasons: list[str]) -> None:
        """Count every gate a rejected candidate failed (`gate_failed_<generator>_<reason>`), not only its reason."""
        for reason in reasons:
            self.failed_gates[f"gate_failed_{generator}_{reason}"] += 1


def decide(tasks: list[Task], answers: list[Answer | LLMError], cfg: GenerateConfig, creator: str,
           templates: dict[str, PromptTemplate], model: str, out: Decisions | None = None) -> Decisions:
    """The LLM-written generators' answers, into `out` (a new Decisions when none); their system prompt is
    `persona_system_written`, which marks them apart from the creator's own words."""
    talk, edit = cfg.talk_as_creator, cfg.editorial_rewrite
    persona = cfg.persona_system_written.format(creator=creator)
    out = out if out is not None else Decisions()
    for task, answer in zip(tasks, answers):
        provenance = Provenance(
            generator=task.generator, generator_version=__version__, prompt=templates[task.generator].name,
            model=model, video_id=task.video.id, video_title=task.video.title, chunk_index=task.chunk.index,
            start=task.chunk.start, end=task.chunk.end, brief=task.brief,
            source_sha256=hashlib.sha256(task.source.encode()).hexdigest())
        candidate = {"id": task.id, "generator": task.generator, "video_id": task.video.id,
                     "chunk_index": task.chunk.index, "brief": task.brief, "clarify": task.clarify}
        if isinstance(answer, LLMError):
            reason, metrics = answer.reason, {}
            failed = [reason]
            candidate.update(error=str(answer))
            if answer.reason in TRANSIENT:
                out.retry_videos.add(task.video.id)
        elif task.generator == "talk_as_creator":
            candidate.update(messages=answer.value, cached=answer.cached)
            failed, metrics = talk_failures(answer.value, task.source, task.clarify, talk.gates, task.video.language)
            reason = failed[0] if failed else None
            if reason is None:
                out.examples["talk_as_creator"].append(ChatExample(
                    messages=[{"role": "system", "content": persona}, *answer.value], provenance=provenance))
        else:
            candidate.update(output=answer.value, cached=answer.cached)
            failed, metrics = edit_failures(task.brief, task.source, answer.value, edit.gates.get(task.brief),
                                            task.video.language)
            reason = failed[0] if failed else None
            if reason is None:
                out.examples["editorial_rewrite"].append(EditExample(
                    instruction=templates["editorial_rewrite"].briefs[task.brief].format(creator=creator),
                    input=task.source, output=answer.value, provenance=provenance))
        out.candidates.append(candidate)
        out.decisions.append({"id": task.id, "generator": task.generator, "accepted": reason is None,
                              "reason": reason, "reasons": failed, "metrics": metrics})
        out.counts[f"accepted_{task.generator}" if reason is None else f"rejected_{task.generator}_{reason}"] += 1
        if reason is not None:
            out.rejected[f"{task.generator}: {reason}"] += 1
            out.gates_failed(task.generator, failed)
    return out
