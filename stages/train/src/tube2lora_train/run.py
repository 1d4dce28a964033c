"""The train stage's orchestration: the generate stage's sources (sources.py) to a video-level split over
the usable videos (split.py), masked token rows mixed by `train.mix` (mixing.py), a mask audit (audit.py),
then TRL's SFTTrainer with a PEFT LoRA adapter (trainer.py): early stopping on the held-out rows, the best
checkpoint kept, TensorBoard, checkpoints and resume.

Reads `stages/generate/` (`passages.jsonl`, each weighted source's dataset, `dataset_manifest.json`).
Writes `split.json` (before training), `mask_audit.json`, `training_metrics.json` and `adapter.json` (what
was decided: base model, tokenizer, adapter path) to `stages/train/`, and the adapter (+ tokenizer) and
TensorBoard logs to `artifacts/train/`. Checkpoints live in the cache under the stage's input hash, so a
killed run resumes from the last one, and a finished training's adapter beside them (finished.py), so a new
run directory with the same inputs trains nothing.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

from tube2lora_models.base_model import resolve_base_model
from tube2lora_models.chat import chat_format, load_encoder
from tube2lora_models.merge import merge
from tube2lora_models.preflight import preflight
from tube2lora_shared.documents import MergeCheck, SourceMix, Split, TrainedAdapter, TrainingMetrics
from tube2lora_shared.errors import StageError
from tube2lora_shared.files import write_text_atomic
from tube2lora_shared.lifecycle import StageContext

from . import finished
from .audit import mask_audit
from .config import TrainConfig
from .mixing import encode, eval_rows, max_length, mix, usable_videos
from .sources import kept_videos, read_sources
from .split import split_videos
from .trainer import fit, release


def run(ctx: StageContext) -> None:
    cfg: TrainConfig = ctx.section
    generated = ctx.upstream["generate"].dir
    weights = cfg.mix.model_dump()
    items = read_sources(generated, weights)
    usable, excluded = usable_videos(kept_videos(generated), items)
    train_videos, eval_videos = split_videos(usable, cfg.eval_share, cfg.seed)  # fails at once below two
    for video in excluded:
        ctx.log.warning("video %s has no passage or example: it is on neither side of the split", video)

    base_model = resolve_base_model(cfg.base_model, ctx.cache.root)
    encoder = load_encoder(cfg.tokenizer, base_model)
    keep, held_out = set(usable), set(eval_videos)
    outside = sorted({r["video"] for r in items} - keep)
    if outside:
        ctx.log.warning("rows of %d video(s) the generate stage does not list as kept are left out: %s",
                        len(outside), ", ".join(outside[:5]))
    encoded = encode(encoder, [r for r in items if r["video"] in keep])
    chosen, shares, warnings = mix([r for r in encoded if r["video"] not in held_out], weights, cfg.seed,
                                     cfg.max_repeats)
    for warning in warnings:
        ctx.log.warning(warning)
    rows = {"train": chosen, "eval": eval_rows([r for r in encoded if r["video"] in held_out], weights)}
    Split(train=train_videos, eval=eval_videos, train_examples=len(rows["train"]), eval_examples=len(rows["eval"]),
          excluded=excluded, train_rows=_count(rows["train"]), eval_rows=_count(rows["eval"])).write(ctx.out_dir)
    audit = mask_audit(rows["train"], encoder.decode, encoder.eos_id)
    write_text_atomic(ctx.out_dir / "mask_audit.json", json.dumps(audit, indent=2, ensure_ascii=False))
    if audit["supervised_tokens"] == 0:
        raise StageError("the mask audit found no supervised token: nothing would be trained "
                         "(see stages/train/mask_audit.json)")
    if audit["rule_breaches"]:
        raise StageError(f"the mask audit found {audit['rule_breaches']} row(s) trained on the wrong tokens (prompt "
                         "text supervised, or monologue text not); see stages/train/mask_audit.json")
    length = max_length(rows["train"] + rows["eval"], cfg.max_length, cfg.max_length_cap)
    ctx.log.info("%d train / %d eval rows (%d / %d videos); supervised-token shares %s; max_length %d",
                 len(rows["train"]), len(rows["eval"]), len(train_videos), len(eval_videos),
                 ", ".join(f"{s} {m['share']:.0%}" for s, m in shares.items() if m["rows"]), length)
    if ctx.estimate:
        return
    work = ctx.cache.root / "train" / ctx.input_hash[:32]
    if ctx.force:
        shutil.rmtree(work, ignore_errors=True)  # a forced run trains from scratch; an interrupted one resumes
    adapter, adapter_path = ctx.artifact("adapter")
    done = finished.reusable(work)
    if done:
        ctx.log.info("a training with these same inputs finished earlier (%s): its adapter is taken, nothing is "
                     "trained again (FORCE=1 trains from scratch)", work)
        finished.restore(work, adapter)
        trainer, metrics = None, done.model_copy(update={"reused": True})
    else:
        where = preflight("train", base_model, cfg.device, cfg.cpu_max_params, ctx.log)
        trainer, metrics = fit(cfg, base_model, encoder, rows, length, work, ctx.log, where)
        metrics = metrics.model_copy(update={"mix": {s: SourceMix(**m) for s, m in shares.items()}})
        trainer.save_model(str(adapter))  # the best checkpoint's weights (loaded at the end); main process only
        if not trainer.is_world_process_zero():
            return
        encoder.save(adapter)
        finished.keep(work, adapter, metrics)
    tensorboard, tensorboard_path = ctx.artifact("tensorboard")
    shutil.copytree(work / "tensorboard", tensorboard, dirs_exist_ok=True)
    merged_path = None
    if cfg.merge:
        if trainer:
            release(trainer)  # the trained model's memory (a GPU's) goes back before the base is loaded to merge
        merged, merged_path = ctx.artifact("merged")
        if cfg.load_in_4bit:
            ctx.log.info("merging the QLoRA adapter into the full-precision base (not its 4-bit weights), as PEFT "
                         "describes: the merged model is the adapter on the unquantized base")
        check = MergeCheck(**merge(base_model, encoder, adapter, merged, [r["input_ids"] for r in rows["train"]],
                                   cfg.merge_tolerance, from_4bit=cfg.load_in_4bit), path=merged_path)
        metrics = metrics.model_copy(update={"merge_check": check})
        if not check.ok:
            raise StageError(f"the merged model's logits differ from base + adapter by "
                             f"{check.max_abs_logit_diff:.2e} (> train.merge_tolerance "
                             f"{cfg.merge_tolerance:g}); the adapter is kept, the merge is not trustworthy")
    metrics.write(ctx.out_dir)
    paths = {"adapter_path": adapter_path, "tensorboard_path": tensorboard_path, "merged_path": merged_path}
    _decision(cfg, base_model, ctx.cache.root, metrics, paths).write(ctx.out_dir)
    for video in train_videos + eval_videos:
        ctx.record(video, "success")
    for video in excluded:
        ctx.record(video, "skipped", reason="no_text")


def _count(rows: list[dict]) -> dict[str, int]:
    return dict(Counter(row["source"] for row in rows))


def _decision(cfg: TrainConfig, base_model: str, cache_root: Path, metrics: TrainingMetrics,
              paths: dict[str, str | None]) -> TrainedAdapter:
    """What later stages need to load what was trained, without reading train's section."""
    location = Path(base_model)
    cached = base_model != cfg.base_model and location.is_relative_to(cache_root)  # a built-in model
    return TrainedAdapter(
        base_model=cfg.base_model, base_model_path=str(location.relative_to(cache_root)) if cached else base_model,
        base_model_cached=cached, tokenizer=cfg.tokenizer, chat_format=chat_format(cfg.tokenizer),
        max_length=metrics.max_length, lora_target_modules=metrics.lora_target_modules, load_in_4bit=cfg.load_in_4bit,
        **paths)
