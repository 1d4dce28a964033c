"""The analyze stage's orchestration: one profile per normalized video, joining what earlier stages measured.

Reads `stages/normalize/normalized.jsonl` and `metrics.jsonl`, `stages/transcribe/transcripts.jsonl`
(whisper confidence), `stages/download/videos.jsonl` (media duration). Writes `profiles.jsonl` and
`metrics.jsonl`.
"""

from __future__ import annotations

import json

from tube2lora_shared.jsonl import read_jsonl, write_jsonl
from tube2lora_shared.languages import identify
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.records import Normalized, Profile, Transcript, Video
from tube2lora_shared.textstats import cl100k_tokens, mattr, reading_ease, sentences, words

from .config import AnalyzeConfig
from .quality import factors, score
from .signature import minhash
from .tokens import MistralTokens


def run(ctx: StageContext) -> None:
    cfg: AnalyzeConfig = ctx.section
    up = ctx.upstream
    normalized = [n for n in read_jsonl(up["normalize"].dir / "normalized.jsonl", Normalized)
                  if n.status in ("success", "cached")]
    transcripts = {t.id: t for t in read_jsonl(up["transcribe"].dir / "transcripts.jsonl", Transcript)}
    videos = {v.id: v for v in read_jsonl(up["download"].dir / "videos.jsonl", Video)}
    metrics_file = up["normalize"].dir / "metrics.jsonl"
    norm_metrics = {m["id"]: m for m in map(json.loads, metrics_file.read_text().splitlines())} \
        if metrics_file.exists() else {}
    tokens = MistralTokens(cfg.tokenizer)
    profiles = []
    for n in ctx.track(normalized, "videos", total=len(normalized)):
        profile = measure(n, transcripts.get(n.id), videos.get(n.id), norm_metrics.get(n.id, {}), tokens, cfg)
        profiles.append(profile)
        ctx.record(n.id, "success")
        ctx.metric(id=n.id, words=profile.words, tokens_target=profile.tokens_target, quality=profile.quality,
                   language=profile.language)
    write_jsonl(ctx.out_dir / "profiles.jsonl", profiles)


def measure(n: Normalized, t: Transcript | None, v: Video | None, norm: dict, tokens: MistralTokens,
            cfg: AnalyzeConfig) -> Profile:
    text = n.text
    w, s = words(text), sentences(text)
    duration = (v.duration if v and v.duration else None) or (t.duration if t else None)
    speaking = _creator_seconds(t) or duration  # the creator's speaking time in an interview
    own = [c for c in n.chunks if c.is_creator is not False]  # other voices' chunks are kept as spoken by design
    logprobs = [seg.avg_logprob for seg in (t.segments if t else []) if seg.avg_logprob is not None]
    language, probability = identify(text)
    profile = Profile(
        id=n.id, title=n.title, duration=duration, source=t.source if t else None,
        transcript_language=t.language if t else None, language=language, language_probability=probability,
        chars=len(text), words=len(w), sentences=len(s), tokens_target=tokens.count(text),
        tokens_cl100k=cl100k_tokens(text), words_per_sentence=round(len(w) / len(s), 2) if s else None,
        mattr=round(mattr(text), 4), reading_ease=reading_ease(text, (t.language if t else None) or language),
        mean_avg_logprob=round(_weighted_mean(t), 4) if logprobs else None,
        words_per_minute=round(len(w) / (speaking / 60), 1) if speaking else None,
        normalize_similarity=norm.get("similarity"), normalize_words_ratio=norm.get("words_ratio"),
        chunks_kept_source=round(sum(c.kept_source not in (None, "disabled") for c in own) / len(own), 4)
        if own else None,
    )
    if not cfg.enabled:
        return profile
    found = factors(profile.model_dump())
    return profile.model_copy(update={"quality_factors": found, "quality": score(found),
                                      "minhash": minhash(text, cfg.shingle_words, cfg.num_perm)})


def _creator_seconds(t: Transcript | None) -> float | None:
    """The creator's segments' total time when other voices were attributed (None otherwise)."""
    if not t or not any(seg.is_creator is False for seg in t.segments):
        return None
    return sum(max(seg.end - seg.start, 0.0) for seg in t.segments if seg.is_creator) or None


def _weighted_mean(t: Transcript) -> float:
    """Mean segment avg_logprob weighted by segment duration (as whisper's own confidence is per window)."""
    pairs = [(seg.avg_logprob, max(seg.end - seg.start, 0.01)) for seg in t.segments if seg.avg_logprob is not None]
    return sum(lp * d for lp, d in pairs) / sum(d for _, d in pairs)
