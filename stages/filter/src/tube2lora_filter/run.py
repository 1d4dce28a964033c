"""The filter stage's orchestration: gates, near-duplicates, boilerplate; every drop with a reason.

Reads `stages/analyze/profiles.jsonl` and `stages/normalize/normalized.jsonl`. Writes `kept.jsonl`,
`dropped.jsonl`, `duplicates.jsonl`, `boilerplate.jsonl`, `metrics.jsonl`.
"""

from __future__ import annotations

from tube2lora_shared.jsonl import read_jsonl, write_jsonl
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.records import (
    Boilerplate,
    DuplicateCluster,
    DuplicateMember,
    Dropped,
    Kept,
    Normalized,
    Profile,
)
from tube2lora_shared.textstats import words

from . import boilerplate, dedup
from .config import FilterConfig
from .gates import failed_gates, reasons


def run(ctx: StageContext) -> None:
    cfg: FilterConfig = ctx.section
    profiles = {p.id: p for p in read_jsonl(ctx.upstream["analyze"].dir / "profiles.jsonl", Profile)}
    texts = {n.id: n for n in read_jsonl(ctx.upstream["normalize"].dir / "normalized.jsonl", Normalized)
             if n.id in profiles}
    dropped: list[Dropped] = []

    def drop(vid: str, failed: list[tuple[str, str]]) -> None:
        """Dropped for the failed gate that explains the others; every failed gate is recorded and counted."""
        detail = "; ".join(d for _, d in failed) if len(failed) == 1 else "; ".join(f"{r}: {d}" for r, d in failed)
        dropped.append(Dropped(id=vid, title=profiles[vid].title, reason=failed[0][0], detail=detail,
                               reasons=reasons(failed)))
        ctx.record(vid, "skipped", failed[0][0], detail)
        for reason in reasons(failed):
            ctx.counts[f"gate_failed_{reason}"] += 1

    passing = list(profiles)
    if cfg.enabled:
        passing = []
        for vid, profile in profiles.items():
            failed = failed_gates(profile, cfg, ctx.config.input.languages)
            drop(vid, failed) if failed else passing.append(vid)
    clusters: list[DuplicateCluster] = []
    if cfg.enabled and cfg.dedup:
        signatures = {vid: profiles[vid].minhash for vid in passing if profiles[vid].minhash}
        for group in dedup.clusters(signatures, cfg.dedup_threshold):
            best = max(group, key=lambda v: (profiles[v].quality or 0, profiles[v].words, v))
            members = [DuplicateMember(id=v, similarity=round(dedup.similarity(signatures[v], signatures[best]), 4))
                       for v in sorted(group) if v != best]
            clusters.append(DuplicateCluster(representative=best, members=members))
            for m in members:
                drop(m.id, [("near_duplicate", f"near-duplicate of {best} (estimated similarity {m.similarity:.2f})")])
                passing.remove(m.id)
    kept_text = {vid: texts[vid].text for vid in passing}
    cut = {vid: 0 for vid in passing}
    report: list[Boilerplate] = []
    if cfg.enabled and cfg.boilerplate and passing:
        kept_text, cut, recurring = boilerplate.remove(kept_text, cfg.boilerplate_min_videos, cfg.boilerplate_min_share,
                                                       cfg.boilerplate_min_words, cfg.boilerplate_keep_rate)
        report = [Boilerplate(sentence=r.sentence, videos=len(r.videos), removed_from=r.removed_from,
                              kept_in=r.kept_in) for r in recurring]
        ctx.counts["boilerplate_sentences"] = len(report)
        ctx.counts["boilerplate_cuts"] = sum(cut.values())
    kept = []
    for vid in passing:
        n, p = texts[vid], profiles[vid]
        kept.append(Kept(id=vid, title=n.title, channel=n.channel, text=kept_text[vid], words=len(words(kept_text[vid])),
                         quality=p.quality, boilerplate_removed=cut[vid]))
        ctx.record(vid, "success")
        ctx.metric(id=vid, kept=True, words=kept[-1].words, quality=p.quality, boilerplate_removed=cut[vid])
    for d in dropped:
        ctx.metric(id=d.id, kept=False, reason=d.reason, reasons=d.reasons)
    write_jsonl(ctx.out_dir / "kept.jsonl", kept)
    write_jsonl(ctx.out_dir / "dropped.jsonl", dropped)
    write_jsonl(ctx.out_dir / "duplicates.jsonl", clusters)
    write_jsonl(ctx.out_dir / "boilerplate.jsonl", report)
    ctx.log.info("kept %d of %d video(s); dropped: %s", len(kept), len(profiles),
                 ", ".join(f"{k.removeprefix('dropped_')}={v}" for k, v in sorted(ctx.counts.items())
                           if k.startswith("dropped_")) or "none")
