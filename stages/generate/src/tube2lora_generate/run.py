"""The generate stage's orchestration: tasks per chunk, concurrent LLM calls, parsing, gates, datasets.

Reads `stages/filter/kept.jsonl` (which videos), `stages/normalize/normalized.jsonl` (their chunks and
time ranges) and `stages/download/videos.jsonl` (upload dates for the card). Writes, per generator,
`candidates.jsonl` (every answer, parsed or not), `decisions.jsonl` (accepted or rejected, with reason
and metrics), the dataset (aggregated and per video), exports, `dataset_manifest.json` and `README.md`.
Answers come from the response cache when the prompts did not change, so changing only a gate
threshold re-gates the stored candidates with zero LLM calls.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from tube2lora_shared.errors import StageError, UsageError
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.llm import TRANSIENT, LLMClient, LLMError
from tube2lora_shared.prompts import PromptTemplate, load_template
from tube2lora_shared.records import Chunk, ChatExample, EditExample, Kept, Normalized, Provenance, Video
from tube2lora_shared.textstats import words

from . import __version__
from .config import GenerateConfig
from .datasets import write_datasets
from .gates import edit_gate, talk_gate
from .parsing import CONVERSATION_SCHEMA_NAME, EDIT_SCHEMA, EDIT_SCHEMA_NAME, conversation_schema, parse_conversation, parse_edit

PLACEHOLDERS = {"creator", "title", "text", "turn_pairs", "answer_words", "topic_hint", "clarify", "instruction"}
CLARIFY = ("In the first answer, {creator} asks the viewer one short clarifying question (ending with a question "
           "mark) before answering.")
FORMAT = {"json": {"talk_as_creator": "Answer with the JSON object only.",
                   "editorial_rewrite": "Answer with the JSON object only."},
          "none": {"talk_as_creator": "Write each turn on its own line, starting with USER: or ASSISTANT:, and "
                                      "nothing else.",
                   "editorial_rewrite": "Answer with the rewritten text between a line <<<OUTPUT>>> and a line "
                                        "<<<END>>>, and nothing else."}}


@dataclass(frozen=True)
class Task:
    generator: str  # talk_as_creator | editorial_rewrite
    video: Normalized
    chunk: Chunk
    source: str
    clarify: bool = False
    brief: str | None = None

    @property
    def id(self) -> str:
        return f"{self.generator}:{self.video.id}:{self.chunk.index}" + (f":{self.brief}" if self.brief else "")


def _share(key: str) -> float:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def run(ctx: StageContext) -> None:
    cfg: GenerateConfig = ctx.section
    kept = [k.id for k in read_jsonl(ctx.upstream["filter"].dir / "kept.jsonl", Kept)]
    normalized = {n.id: n for n in read_jsonl(ctx.upstream["normalize"].dir / "normalized.jsonl", Normalized)}
    videos = {v.id: v for v in read_jsonl(ctx.upstream["download"].dir / "videos.jsonl", Video)}
    creator = cfg.creator or next((normalized[k].channel for k in kept if normalized[k].channel), None) or "the creator"
    talk, edit = cfg.talk_as_creator, cfg.editorial_rewrite
    templates: dict[str, PromptTemplate] = {}
    tasks: list[Task] = []
    n_chunk = 0
    for vid in kept:
        for chunk in normalized[vid].chunks:
            if talk.enabled and len(words(chunk.text)) >= talk.gates.min_source_words:
                tasks.append(Task("talk_as_creator", normalized[vid], chunk, chunk.text,
                                  clarify=_share(f"clarify:{vid}:{chunk.index}") < talk.clarify_share))
            if edit.enabled and len(words(chunk.text)) >= edit.min_source_words:
                source = chunk.text if edit.input == "normalized" else chunk.source
                for k in range(edit.examples_per_chunk):
                    brief = edit.briefs[(n_chunk * edit.examples_per_chunk + k) % len(edit.briefs)]
                    tasks.append(Task("editorial_rewrite", normalized[vid], chunk, source, brief=brief))
            n_chunk += 1
    if talk.enabled:
        templates["talk_as_creator"] = load_template(talk.prompt_file, "generate.talk_as_creator.prompt_file",
                                                     PLACEHOLDERS)
    if edit.enabled:
        templates["editorial_rewrite"] = load_template(edit.prompt_file, "generate.editorial_rewrite.prompt_file",
                                                       PLACEHOLDERS)
        missing = [b for b in edit.briefs if b not in templates["editorial_rewrite"].briefs]
        if missing:
            raise UsageError(f"generate.editorial_rewrite.briefs: {missing} have no instruction in "
                             f"{edit.prompt_file} (its briefs: {sorted(templates['editorial_rewrite'].briefs)})")
    client = LLMClient(ctx.config.llm, cfg.model, ctx.cache, ctx.log, ctx.token_usage, ctx.estimate)
    fmt = FORMAT["none" if ctx.config.llm.structured_output == "none" else "json"]
    ctx.log.info("%d generation task(s) from %d kept video(s)", len(tasks), len(kept))

    def ask(task: Task):
        template = templates[task.generator]
        values = dict(creator=creator, title=task.video.title or "", text=task.source, turn_pairs=str(talk.turn_pairs),
                      answer_words=str(talk.answer_words), instruction="",
                      topic_hint=f"Stay on this topic: {talk.topic_hint}." if talk.topic_hint else "",
                      clarify=CLARIFY.format(creator=creator) if task.clarify else "")
        if task.brief:
            values["instruction"] = template.briefs[task.brief].format(**values)
        messages = template.messages(**values)
        messages[-1]["content"] += "\n\n" + fmt[task.generator]
        if task.generator == "talk_as_creator":
            return client.ask(messages, lambda text: parse_conversation(text, talk.turn_pairs),
                              schema=conversation_schema(talk.turn_pairs, talk.answer_words), schema_name=CONVERSATION_SCHEMA_NAME,
                              temperature=talk.temperature, max_tokens=400 * talk.turn_pairs + 200)
        return client.ask(messages, parse_edit, schema=EDIT_SCHEMA, schema_name=EDIT_SCHEMA_NAME,
                          temperature=edit.temperature, max_tokens=len(task.source) // 2 + 300)

    answers = client.map(tasks, ask, "examples")
    if ctx.estimate:
        return
    persona = cfg.persona_system.format(creator=creator)
    candidates, decisions, examples = [], [], {"talk_as_creator": [], "editorial_rewrite": []}
    rejected: Counter[str] = Counter()
    retry_videos: set[str] = set()
    for task, answer in zip(tasks, answers):
        provenance = Provenance(
            generator=task.generator, generator_version=__version__, prompt=templates[task.generator].name,
            model=client.model, video_id=task.video.id, video_title=task.video.title, chunk_index=task.chunk.index,
            start=task.chunk.start, end=task.chunk.end, brief=task.brief,
            source_sha256=hashlib.sha256(task.source.encode()).hexdigest())
        candidate = {"id": task.id, "generator": task.generator, "video_id": task.video.id,
                     "chunk_index": task.chunk.index, "brief": task.brief, "clarify": task.clarify}
        if isinstance(answer, LLMError):
            reason, metrics = answer.reason, {}
            candidate.update(error=str(answer))
            if answer.reason in TRANSIENT:
                retry_videos.add(task.video.id)
        elif task.generator == "talk_as_creator":
            candidate.update(messages=answer.value, cached=answer.cached)
            reason, metrics = talk_gate(answer.value, task.source, task.clarify, talk.gates)
            if reason is None:
                examples["talk_as_creator"].append(ChatExample(
                    messages=[{"role": "system", "content": persona}, *answer.value], provenance=provenance))
        else:
            candidate.update(output=answer.value, cached=answer.cached)
            reason, metrics = edit_gate(task.brief, task.source, answer.value, edit.gates.get(task.brief))
            if reason is None:
                examples["editorial_rewrite"].append(EditExample(
                    instruction=templates["editorial_rewrite"].briefs[task.brief].format(creator=creator),
                    input=task.source, output=answer.value, provenance=provenance))
        candidates.append(candidate)
        decisions.append({"id": task.id, "generator": task.generator, "accepted": reason is None,
                          "reason": reason, "metrics": metrics})
        key = f"accepted_{task.generator}" if reason is None else f"rejected_{task.generator}_{reason}"
        ctx.counts[key] += 1
        if reason is not None:
            rejected[f"{task.generator}: {reason}"] += 1
    for vid in kept:
        transient = vid in retry_videos
        ctx.record(vid, "success", "partial_llm_errors" if transient else None,
                   "some answers were lost to LLM errors; the next run asks again" if transient else None,
                   retryable=transient)
    accepted = sum(len(v) for v in examples.values())
    if tasks and not accepted:
        histogram = ", ".join(f"{k}={v}" for k, v in rejected.most_common())
        raise StageError(f"no example passed the gates out of {len(tasks)} candidates ({histogram}); the dataset "
                         "would be empty: check the model's answers in logs/pipeline.log or the gate thresholds")
    write_datasets(ctx, cfg, creator, candidates, decisions, examples, rejected, videos, kept, client.model)
