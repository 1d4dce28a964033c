"""The train stage's orchestration: datasets to masked token rows, a video-level split, a mask audit,
then TRL's SFTTrainer with a PEFT LoRA adapter (trainer.py), TensorBoard, checkpoints and resume.

Reads `stages/generate/talk_as_creator/dataset_messages.jsonl` (and the editorial dataset when
`editorial_weight` > 0). Writes `split.json`, `mask_audit.json`, `training_metrics.json` and
`adapter.json` (what was decided: base model, tokenizer, adapter path) to `stages/train/`, and the
adapter (+ tokenizer) and TensorBoard logs to `artifacts/train/`. Checkpoints live in the cache under
the stage's input hash, so a killed run resumes from the last one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tube2lora_models.base_model import resolve_base_model
from tube2lora_models.chat import chat_format, load_encoder
from tube2lora_models.merge import merge
from tube2lora_shared.documents import MergeCheck, Split, TrainedAdapter, TrainingMetrics
from tube2lora_shared.errors import StageError
from tube2lora_shared.files import write_text_atomic
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.records import ChatExample, EditExample

from .audit import mask_audit
from .config import TrainConfig
from .mixing import encode_rows, max_length, mix
from .split import split_videos
from .trainer import fit

CHATS, EDITS = "talk_as_creator/dataset_messages.jsonl", "editorial_rewrite/dataset_edits.jsonl"


def run(ctx: StageContext) -> None:
    cfg: TrainConfig = ctx.section
    generated = ctx.upstream["generate"].dir
    chats = _read(generated / CHATS, ChatExample)
    edits = _read(generated / EDITS, EditExample) if cfg.editorial_weight > 0 else []
    conversations = mix(chats, edits, cfg.editorial_weight, cfg.seed)
    if not conversations:
        raise StageError("the generate stage produced no training examples; see stages/generate/README.md")

    base_model = resolve_base_model(cfg.base_model, ctx.cache.root)
    encoder = load_encoder(cfg.tokenizer, base_model)
    train_videos, eval_videos = split_videos([v for v, _ in conversations], cfg.eval_share, cfg.seed)
    rows = encode_rows(encoder, conversations, eval_videos)
    Split(train=train_videos, eval=eval_videos, train_examples=len(rows["train"]),
          eval_examples=len(rows["eval"])).write(ctx.out_dir)
    audit = mask_audit(rows["train"], lambda ids: encoder.decode(ids, keep_special=True), encoder.eos_id)
    write_text_atomic(ctx.out_dir / "mask_audit.json", json.dumps(audit, indent=2, ensure_ascii=False))
    if audit["supervised_tokens"] == 0:
        raise StageError("the mask audit found no supervised token: no assistant text would be trained "
                         "(see stages/train/mask_audit.json)")
    length = max_length(rows, cfg.max_length, cfg.max_length_cap)
    ctx.log.info("%d train / %d eval examples (%d / %d videos); %.0f%% of tokens supervised; max_length %d",
                 len(rows["train"]), len(rows["eval"]), len(train_videos), len(eval_videos),
                 100 * audit["supervised_share"], length)
    if ctx.estimate:
        return
    work = ctx.cache.root / "train" / ctx.input_hash[:32]
    if ctx.force:
        shutil.rmtree(work, ignore_errors=True)  # a forced run trains from scratch; an interrupted one resumes
    trainer, metrics = fit(cfg, base_model, encoder, rows, length, work, ctx.log)
    adapter, adapter_path = ctx.artifact("adapter")
    trainer.save_model(str(adapter))  # on the main process only, under DDP
    if not trainer.is_world_process_zero():
        return
    encoder.save(adapter)
    tensorboard, tensorboard_path = ctx.artifact("tensorboard")
    shutil.copytree(work / "tensorboard", tensorboard, dirs_exist_ok=True)
    merged_path = None
    if cfg.merge:
        merged, merged_path = ctx.artifact("merged")
        check = MergeCheck(**merge(base_model, encoder, adapter, merged, [r["input_ids"] for r in rows["train"]],
                                   cfg.merge_tolerance), path=merged_path)
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


def _read(path: Path, record: type) -> list:
    return list(read_jsonl(path, record)) if path.exists() else []


def _decision(cfg: TrainConfig, base_model: str, cache_root: Path, metrics: TrainingMetrics,
              paths: dict[str, str | None]) -> TrainedAdapter:
    """What later stages need to load what was trained, without reading train's section."""
    location = Path(base_model)
    cached = base_model != cfg.base_model and location.is_relative_to(cache_root)  # a built-in model
    return TrainedAdapter(
        base_model=cfg.base_model, base_model_path=str(location.relative_to(cache_root)) if cached else base_model,
        base_model_cached=cached, tokenizer=cfg.tokenizer, chat_format=chat_format(cfg.tokenizer),
        max_length=metrics.max_length, lora_target_modules=metrics.lora_target_modules, **paths)
