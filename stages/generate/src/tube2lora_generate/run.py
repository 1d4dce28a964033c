"""The generate stage's orchestration: passages and tasks, concurrent LLM calls, parsing, gates, datasets.

Reads `stages/filter/kept.jsonl` (which videos, and their text after boilerplate removal),
`stages/normalize/normalized.jsonl` (chunks and time ranges, the transcript's language) and
`stages/download/videos.jsonl` (upload dates for the card). Where transcribe attributed speakers, the kept
text holds the creator's turns only, passages never cross a turn, another voice's chunks are never a source,
and a question asked right before a creator's turn is that passage's own_words question. Writes
`passages.jsonl` (the creator's usable verbatim passages) and, per generator, `candidates.jsonl` (every answer, parsed or not), `decisions.jsonl`
(accepted or rejected, with reason and metrics), the dataset (aggregated and per video), exports,
`dataset_manifest.json` and `README.md`. Answers come from the response cache when the prompts did not
change, so changing only a gate threshold re-gates the stored candidates with zero LLM calls.
"""

from __future__ import annotations

from collections import Counter

from tube2lora_shared.errors import StageError
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.llm import Answer, LLMClient
from tube2lora_shared.prompts import PromptTemplate
from tube2lora_shared.records import Kept, Normalized, Passage, Video

from .config import GenerateConfig
from .consumers import unused
from .cuts import surviving_chunks
from .datasets import write_datasets
from .decisions import Decisions, decide
from .own_words import Asked, again, decide_own_words, gate_questions, real_questions, to_curate
from .passages import passages_of
from .prompting import curation_question, load_templates, question, viewer_question
from .tasks import creator_name, plan
from .turns import openings


def ask_questions(client: LLMClient, passages: list[Passage], template: PromptTemplate, creator: str,
                  cfg: GenerateConfig, structured: str, real: dict[str, Answer]) -> list[Asked]:
    """Each passage's viewer question through its gates (`real`: the passages whose question was asked in the
    video, already through the gates: no LLM call for these); refused ones are asked again with the reason, up
    to `own_words.question_attempts` questions per passage."""
    written = iter(client.ask_all([viewer_question(p, template, creator, cfg, structured)
                                   for p in passages if p.id not in real], "own_words questions"))
    answers = [real[p.id] if p.id in real else next(written) for p in passages]
    asked = gate_questions(passages, answers, cfg.own_words.gates, frozenset(real))
    for attempt in range(2, cfg.own_words.question_attempts + 1):
        refused = [a for a in asked if a.ask_again]
        if not refused:
            break
        answers = client.ask_all([viewer_question(a.passage, template, creator, cfg, structured,
                                                  [*a.earlier, {"question": a.question, "reason": a.reason}])
                                  for a in refused], f"own_words questions, attempt {attempt}")
        asked = again(asked, gate_questions([a.passage for a in refused], answers, cfg.own_words.gates))
    return asked


def run(ctx: StageContext) -> None:
    cfg: GenerateConfig = ctx.section
    for waste in unused(ctx.config, cfg):
        ctx.log.warning("%s", waste)
    kept = {k.id: k for k in read_jsonl(ctx.upstream["filter"].dir / "kept.jsonl", Kept)}
    normalized = {n.id: n for n in read_jsonl(ctx.upstream["normalize"].dir / "normalized.jsonl", Normalized)}
    videos = {v.id: v for v in read_jsonl(ctx.upstream["download"].dir / "videos.jsonl", Video)}
    creator = creator_name(cfg, list(kept), normalized)
    templates = load_templates(cfg)
    passages: list[Passage] = []
    dropped: Counter[str] = Counter()
    for vid, k in kept.items():
        usable, drops = passages_of(k, normalized[vid].language, cfg.own_words, ctx.config.input.languages,
                                    openings(normalized[vid], cfg.own_words.gates.max_question_words))
        passages += usable
        dropped.update(drops)
    ctx.counts.update({f"dropped_passages_{reason}": n for reason, n in dropped.items()})
    tasks = plan(cfg, list(kept), normalized, {vid: surviving_chunks(normalized[vid], k) for vid, k in kept.items()})
    client = ctx.llm(cfg.model)
    structured = ctx.config.llm.structured_output
    ctx.log.info("%d passage(s) (dropped: %s) and %d generation task(s) from %d kept video(s)", len(passages),
                 ", ".join(f"{r}={n}" for r, n in dropped.most_common()) or "none", len(tasks), len(kept))
    found = Decisions()
    if cfg.own_words.enabled and passages:
        real, turned_down = real_questions(passages, cfg.own_words.gates)
        ctx.counts["own_words_real_questions"] += len(real)
        ctx.counts.update({f"own_words_real_questions_rejected_{r}": n for r, n in turned_down.items()})
        asked = ask_questions(client, passages, templates["own_words"], creator, cfg, structured, real)
        scores = client.ask_all([curation_question(a.passage, a.question, templates["own_words_curation"], creator,
                                                   structured) for a in to_curate(asked)],
                                "own_words curation") if "own_words_curation" in templates else []
        if not ctx.estimate:
            decide_own_words(asked, scores, cfg.own_words.gates, cfg.persona_system.format(creator=creator),
                             templates["own_words"].name, client.model, found)
    answers = client.ask_all([question(t, templates[t.generator], creator, cfg, structured) for t in tasks],
                             "examples") if tasks else []
    if ctx.estimate:
        return
    decide(tasks, answers, cfg, creator, templates, client.model, found)
    ctx.counts.update(found.counts)
    ctx.counts.update(found.failed_gates)
    for vid in kept:
        transient = vid in found.retry_videos
        ctx.record(vid, "success", "partial_llm_errors" if transient else None,
                   "some answers were lost to LLM errors; the next run asks again" if transient else None,
                   retryable=transient)
    if not found.accepted:
        histogram = ", ".join(f"{k}={v}" for k, v in [*found.rejected.most_common(),
                                                      *(("passages: " + r, n) for r, n in dropped.most_common())])
        raise StageError(f"no example passed the gates out of {len(found.decisions)} candidates ({histogram or 'none'}); "
                         "the dataset would be empty: check the model's answers in logs/pipeline.log or the gate "
                         "thresholds")
    write_datasets(ctx, cfg, creator, found, passages, dropped, videos, list(kept), client.model)
