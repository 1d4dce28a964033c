"""What `tube2lora estimate` forecasts of normalize: one request per chunk of the creator's speech, chunked as the
stage chunks (target_chars, max_chars, overlap_chars), asked with its own prompt; the answer is the chunk
cleaned, about as long as the chunk. Its records for the stages after it: the chunks, cleaned text taken as
the spoken text (cleaning removes fillers only).
"""

from __future__ import annotations

from tube2lora_shared.estimate import EstimateContext
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.prompts import load_template
from tube2lora_shared.records import Chunk, Normalized

from .chunking import chunk
from .config import NormalizeConfig
from .prompting import PLACEHOLDERS, Job, question
from .run import creator_text


def forecast(ectx: EstimateContext) -> None:
    cfg: NormalizeConfig = ectx.section
    finished = ectx.finished()
    if finished:
        ectx.forecast.normalized = list(read_jsonl(finished / "normalized.jsonl", Normalized))
        return
    transcripts = ectx.forecast.transcripts or []
    chunks: dict[str, list[Chunk]] = {}
    if not cfg.enabled:  # passed through: one chunk a speaker turn, and the forecast's transcripts have one turn
        ectx.note("normalize.enabled is false: nothing is asked")
        chunks = {t.id: [Chunk(index=0, start=0.0, end=t.duration or 0.0, source=t.text, text=t.text)]
                  for t in transcripts}
    else:
        jobs = [Job(t, d) for t in transcripts for d in chunk(t.segments, cfg.target_chars, cfg.max_chars,
                                                              cfg.overlap_chars)]
        template = load_template(cfg.prompt_file, "normalize.prompt_file", PLACEHOLDERS)
        ectx.llm(cfg.model).ask_all([question(template, job, cfg.temperature, ectx.config.llm.structured_output)
                                     for job in jobs if job.draft.is_creator is not False], "normalize estimate")
        for job in jobs:
            d = job.draft
            chunks.setdefault(job.transcript.id, []).append(Chunk(index=d.index, start=d.start, end=d.end,
                                                                  source=d.text, text=d.text, speaker=d.speaker,
                                                                  is_creator=d.is_creator))
    ectx.forecast.normalized = [
        Normalized(id=t.id, title=t.title, channel=t.channel, language=t.language, status="success",
                   chunks=chunks.get(t.id, []), text=creator_text(chunks.get(t.id, []))) for t in transcripts]
