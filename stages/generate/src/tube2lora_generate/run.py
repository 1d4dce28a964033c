"""The generate stage's orchestration: tasks per chunk, concurrent LLM calls, parsing, gates, datasets.

Reads `stages/filter/kept.jsonl` (which videos), `stages/normalize/normalized.jsonl` (their chunks and
time ranges) and `stages/download/videos.jsonl` (upload dates for the card). Writes, per generator,
`candidates.jsonl` (every answer, parsed or not), `decisions.jsonl` (accepted or rejected, with reason
and metrics), the dataset (aggregated and per video), exports, `dataset_manifest.json` and `README.md`.
Answers come from the response cache when the prompts did not change, so changing only a gate
threshold re-gates the stored candidates with zero LLM calls.
"""

from __future__ import annotations

from tube2lora_shared.errors import StageError
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.records import Kept, Normalized, Video

from .config import GenerateConfig
from .datasets import write_datasets
from .decisions import decide
from .prompting import load_templates, question
from .tasks import creator_name, plan


def run(ctx: StageContext) -> None:
    cfg: GenerateConfig = ctx.section
    kept = [k.id for k in read_jsonl(ctx.upstream["filter"].dir / "kept.jsonl", Kept)]
    normalized = {n.id: n for n in read_jsonl(ctx.upstream["normalize"].dir / "normalized.jsonl", Normalized)}
    videos = {v.id: v for v in read_jsonl(ctx.upstream["download"].dir / "videos.jsonl", Video)}
    creator = creator_name(cfg, kept, normalized)
    tasks = plan(cfg, kept, normalized)
    templates = load_templates(cfg)
    client = ctx.llm(cfg.model)
    ctx.log.info("%d generation task(s) from %d kept video(s)", len(tasks), len(kept))
    answers = client.ask_all([question(t, templates[t.generator], creator, cfg, ctx.config.llm.structured_output)
                              for t in tasks], "examples")
    if ctx.estimate:
        return
    found = decide(tasks, answers, cfg, creator, templates, client.model)
    ctx.counts.update(found.counts)
    for vid in kept:
        transient = vid in found.retry_videos
        ctx.record(vid, "success", "partial_llm_errors" if transient else None,
                   "some answers were lost to LLM errors; the next run asks again" if transient else None,
                   retryable=transient)
    if tasks and not found.accepted:
        histogram = ", ".join(f"{k}={v}" for k, v in found.rejected.most_common())
        raise StageError(f"no example passed the gates out of {len(tasks)} candidates ({histogram}); the dataset "
                         "would be empty: check the model's answers in logs/pipeline.log or the gate thresholds")
    write_datasets(ctx, cfg, creator, found.candidates, found.decisions, found.examples, found.rejected, videos,
                   kept, client.model)
