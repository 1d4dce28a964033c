"""The normalize stage's orchestration: chunk each transcript, clean chunks concurrently, guard, merge.

Reads `stages/transcribe/transcripts.jsonl` (transcribed videos). Writes `stages/normalize/<id>.json`
(the Normalized record, chunk by chunk), `<id>.txt`, `normalized.jsonl`, `metrics.jsonl` (before and
after: chars, words, tokens, sentences, ratios, similarity, MATTR, reading ease). A chunk whose answer
is unusable, or drifts from the source (voice guard), keeps its source text with the reason counted. Chunks of
another speaker than the creator (transcribe's speaker attribution) are kept as spoken, never sent to the LLM,
and left out of the record's `text` (the creator's words), which analyze, filter and generate read.
"""

from __future__ import annotations

from tube2lora_shared.errors import StageError
from tube2lora_shared.files import write_text_atomic
from tube2lora_shared.jsonl import read_jsonl, write_jsonl
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.llm import TRANSIENT, Answer, LLMError
from tube2lora_shared.prompts import PromptTemplate, load_template
from tube2lora_shared.records import Chunk, Normalized, Transcript
from tube2lora_shared.segmentation import join_text
from tube2lora_shared.textstats import profile, similarity

from .chunking import Draft, chunk
from .config import NormalizeConfig
from .guard import guard
from .prompting import PLACEHOLDERS, Job, question


def run(ctx: StageContext) -> None:
    cfg: NormalizeConfig = ctx.section
    transcripts = [t for t in read_jsonl(ctx.upstream["transcribe"].dir / "transcripts.jsonl", Transcript)
                   if t.status in ("success", "cached")]
    if not cfg.enabled:
        results = [_passthrough(ctx, t) for t in transcripts]
    else:
        template = load_template(cfg.prompt_file, "normalize.prompt_file", PLACEHOLDERS)
        client = ctx.llm(cfg.model)
        drafts = [Job(t, d) for t in transcripts
                  for d in chunk(t.segments, cfg.target_chars, cfg.max_chars, cfg.overlap_chars)]
        jobs = [job for job in drafts if job.draft.is_creator is not False]
        ctx.log.info("%d chunk(s) from %d transcript(s), %d of other speakers kept as spoken", len(jobs),
                     len(transcripts), len(drafts) - len(jobs))
        answers = client.ask_all([question(template, job, cfg.temperature, ctx.config.llm.structured_output)
                                  for job in jobs], "chunks")
        if jobs and all(isinstance(a, LLMError) and a.reason in TRANSIENT for a in answers):
            raise StageError(f"no chunk could be normalized: the LLM endpoint failed every request ({answers[0]}); "
                             "finished answers are cached")
        asked = {id(job): answer for job, answer in zip(jobs, answers)}
        by_video: dict[str, list[Chunk]] = {}
        for job in drafts:
            by_video.setdefault(job.transcript.id, []).append(
                _chunk(ctx, cfg, job.draft, asked[id(job)]) if id(job) in asked else _other_speaker(ctx, job.draft))
        results = [_finish(ctx, t, by_video.get(t.id, []), client.model, template) for t in transcripts]
    write_jsonl(ctx.out_dir / "normalized.jsonl", results)


def _chunk(ctx: StageContext, cfg: NormalizeConfig, draft: Draft, answer: Answer | LLMError) -> Chunk:
    found = guard(draft, answer, cfg)
    ctx.counts[f"chunks_kept_source_{found.kept_source}" if found.kept_source else "chunks_cleaned"] += 1
    return found


def _other_speaker(ctx: StageContext, draft: Draft) -> Chunk:
    ctx.counts["chunks_kept_source_other_speaker"] += 1
    return Chunk(index=draft.index, start=draft.start, end=draft.end, source=draft.text, text=draft.text,
                 kept_source="other_speaker", speaker=draft.speaker, is_creator=draft.is_creator)


def creator_text(chunks: list[Chunk]) -> str:
    return join_text([c.text for c in chunks if c.is_creator is not False])


def _finish(ctx: StageContext, t: Transcript, chunks: list[Chunk], model: str, template: PromptTemplate) -> Normalized:
    transient = sorted({c.kept_source for c in chunks if c.kept_source in TRANSIENT})
    status, reason = "success", (f"partial_llm_{transient[0]}" if transient else None)
    if chunks and all(c.kept_source == "estimate" for c in chunks):
        status, reason = "skipped", "estimate"
    record = Normalized(id=t.id, title=t.title, channel=t.channel, language=t.language, status=status,
                        reason=reason, model=model, prompt=template.name, chunks=chunks,
                        text=creator_text(chunks), text_path=f"stages/normalize/{t.id}.txt")
    error = f"{sum(c.kept_source in TRANSIENT for c in chunks)} chunk(s) kept as spoken after LLM errors " \
            f"({', '.join(transient)}); the next run asks again" if transient else None
    ctx.record(t.id, status, reason, error, retryable=bool(transient))
    _write(ctx, record, t)
    return record


def _passthrough(ctx: StageContext, t: Transcript) -> Normalized:
    """The transcript as spoken: one chunk per speaker turn (one chunk when speakers are not attributed)."""
    chunks: list[Chunk] = []
    for seg in t.segments:
        last = chunks[-1] if chunks else None
        if last and (last.speaker, last.is_creator) == (seg.speaker, seg.is_creator):
            text = f"{last.text} {seg.text.strip()}".strip()
            chunks[-1] = last.model_copy(update={"end": seg.end, "source": text, "text": text})
        else:
            chunks.append(Chunk(index=len(chunks), start=seg.start, end=seg.end, source=seg.text.strip(),
                                text=seg.text.strip(), kept_source="disabled", speaker=seg.speaker,
                                is_creator=seg.is_creator))
    record = Normalized(id=t.id, title=t.title, channel=t.channel, language=t.language, status="success",
                        reason="disabled", chunks=chunks, text=creator_text(chunks),
                        text_path=f"stages/normalize/{t.id}.txt")
    ctx.record(t.id, "success", "disabled")
    _write(ctx, record, t)
    return record


def _write(ctx: StageContext, record: Normalized, t: Transcript) -> None:
    write_text_atomic(ctx.out_dir / f"{record.id}.json", record.model_dump_json(indent=1))
    write_text_atomic(ctx.out_dir / f"{record.id}.txt", record.text + "\n")
    before, after = profile(t.creator_text, t.language), profile(record.text, t.language)
    ratios = {f"{k}_ratio": round(after[k] / before[k], 4) for k in ("chars", "words", "tokens", "sentences")
              if before[k]}
    ctx.metric(id=record.id, before=before, after=after, **ratios, similarity=round(similarity(t.creator_text, record.text), 4),
               chunks=len(record.chunks), chunks_kept_source=sum(c.kept_source is not None for c in record.chunks))
