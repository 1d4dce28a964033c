"""The train stage's orchestration: datasets to masked token rows, a video-level split, a mask audit,
then TRL's SFTTrainer with a PEFT LoRA adapter, TensorBoard, checkpoints and resume.

Reads `stages/generate/talk_as_creator/dataset_messages.jsonl` (and the editorial dataset when
`editorial_weight` > 0). Writes `split.json`, `mask_audit.json`, `training_metrics.json` to
`stages/train/`, and the adapter (+ tokenizer) and TensorBoard logs to `artifacts/train/`.
Checkpoints live in the cache under the stage's input hash, so a killed run resumes from the last one.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from pathlib import Path

from tube2lora_shared.errors import StageError, UsageError
from tube2lora_shared.files import write_text_atomic
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.records import ChatExample, EditExample

from .audit import mask_audit
from .chat import load_encoder
from .config import TrainConfig
from .models import resolve_base_model
from .split import split_videos


def run(ctx: StageContext) -> None:
    cfg: TrainConfig = ctx.section
    generated = ctx.upstream["generate"].dir
    chats = list(read_jsonl(generated / "talk_as_creator" / "dataset_messages.jsonl", ChatExample)) \
        if (generated / "talk_as_creator" / "dataset_messages.jsonl").exists() else []
    conversations = [(c.provenance.video_id, c.messages) for c in chats]
    if cfg.editorial_weight > 0 and (generated / "editorial_rewrite" / "dataset_edits.jsonl").exists():
        edits = list(read_jsonl(generated / "editorial_rewrite" / "dataset_edits.jsonl", EditExample))
        random.Random(cfg.seed).shuffle(edits)
        take = min(len(edits), math.ceil(cfg.editorial_weight * len(chats)))
        conversations += [(e.provenance.video_id, [{"role": "user", "content": f"{e.instruction}\n\n{e.input}"},
                                                   {"role": "assistant", "content": e.output}]) for e in edits[:take]]
    if not conversations:
        raise StageError("the generate stage produced no training examples; see stages/generate/README.md")

    cfg = cfg.model_copy(update={"base_model": resolve_base_model(cfg.base_model, ctx.cache.root)})
    encoder = load_encoder(cfg.tokenizer, cfg.base_model)
    train_videos, eval_videos = split_videos([v for v, _ in conversations], cfg.eval_share, cfg.seed)
    rows = {"train": [], "eval": []}
    for n, (video, messages) in enumerate(conversations):
        try:
            ids, mask = encoder.encode(messages)
        except UsageError:
            raise
        except Exception as exc:  # mistral-common / jinja refuse a malformed conversation
            raise StageError(f"conversation {n} (video {video}) is rejected by the tokenizer's chat format: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        rows["eval" if video in eval_videos else "train"].append({"input_ids": ids, "assistant_masks": mask})
    write_text_atomic(ctx.out_dir / "split.json", json.dumps({"train": train_videos, "eval": eval_videos,
                                                              "train_examples": len(rows["train"]),
                                                              "eval_examples": len(rows["eval"])}, indent=2))
    audit = mask_audit(rows["train"], lambda ids: encoder.decode(ids, keep_special=True), encoder.eos_id)
    write_text_atomic(ctx.out_dir / "mask_audit.json", json.dumps(audit, indent=2, ensure_ascii=False))
    if audit["supervised_tokens"] == 0:
        raise StageError("the mask audit found no supervised token: no assistant text would be trained "
                         "(see stages/train/mask_audit.json)")
    longest = max(len(r["input_ids"]) for r in rows["train"] + rows["eval"])
    max_length = cfg.max_length or min(cfg.max_length_cap, 64 * math.ceil(longest / 64))
    ctx.log.info("%d train / %d eval examples (%d / %d videos); %.0f%% of tokens supervised; max_length %d",
                 len(rows["train"]), len(rows["eval"]), len(train_videos), len(eval_videos),
                 100 * audit["supervised_share"], max_length)
    if ctx.estimate:
        return
    work = ctx.cache.root / "train" / ctx.input_hash[:32]
    if ctx.force:
        shutil.rmtree(work, ignore_errors=True)  # a forced run trains from scratch; an interrupted one resumes
    metrics = fit(ctx, cfg, encoder, rows, max_length, work)
    trainer = metrics.pop("trainer")
    adapter, _ = ctx.artifact("adapter")
    trainer.save_model(str(adapter))  # on the main process only, under DDP
    if not trainer.is_world_process_zero():
        return
    encoder.save(adapter)
    shutil.copytree(work / "tensorboard", ctx.artifact("tensorboard")[0], dirs_exist_ok=True)
    if cfg.merge:
        metrics["merge_check"] = merge(cfg, encoder, adapter, ctx.artifact("merged")[0], rows["train"])
        if not metrics["merge_check"]["ok"]:
            raise StageError(f"the merged model's logits differ from base + adapter by "
                             f"{metrics['merge_check']['max_abs_logit_diff']:.2e} (> train.merge_tolerance "
                             f"{cfg.merge_tolerance:g}); the adapter is kept, the merge is not trustworthy")
    summary = metrics
    write_text_atomic(ctx.out_dir / "training_metrics.json", json.dumps(summary, indent=2))
    for video in train_videos + eval_videos:
        ctx.record(video, "success")


def fit(ctx: StageContext, cfg: TrainConfig, encoder, rows: dict, max_length: int, work: Path) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    cuda = torch.cuda.is_available()
    if cfg.load_in_4bit and not cuda:
        raise UsageError("train.load_in_4bit: QLoRA needs a CUDA GPU (bitsandbytes); this machine has none. "
                         "Set it to false to train in full precision on CPU")
    bf16 = cuda and torch.cuda.is_bf16_supported()
    load = {"dtype": torch.bfloat16 if bf16 else torch.float16 if cuda else torch.float32}
    if cfg.load_in_4bit:
        from transformers import BitsAndBytesConfig

        load["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                         bnb_4bit_compute_dtype=load["dtype"])
    try:
        model = AutoModelForCausalLM.from_pretrained(cfg.base_model, **load)
    except OSError as exc:
        raise StageError(f"train.base_model {cfg.base_model!r} could not be loaded ({str(exc).splitlines()[0]}); "
                         "use a local model directory or a reachable hub id") from None
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [m for m in cfg.lora_target_modules if m in present]
    if not targets:
        raise UsageError(f"train.lora_target_modules: none of {cfg.lora_target_modules} exist in {cfg.base_model}")
    peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                             target_modules=targets, use_rslora=cfg.use_rslora, use_dora=cfg.use_dora,
                             task_type="CAUSAL_LM")
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(work / "tensorboard")
    evaluate = bool(rows["eval"])
    args = SFTConfig(
        output_dir=str(work / "checkpoints"), learning_rate=cfg.learning_rate, num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps, per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        gradient_checkpointing=cfg.gradient_checkpointing, max_length=max_length, packing=cfg.packing,
        seed=cfg.seed, logging_steps=cfg.logging_steps, save_steps=cfg.save_steps, save_total_limit=2,
        eval_strategy="steps" if evaluate else "no", eval_steps=cfg.eval_steps, report_to=["tensorboard"],
        bf16=bf16, fp16=cuda and not bf16, use_cpu=not cuda, pad_token=encoder.pad_token,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows["train"]),
                         eval_dataset=Dataset.from_list(rows["eval"]) if evaluate else None,
                         processing_class=encoder.processing_class(), peft_config=peft_config)
    _check_labels(trainer, rows["train"][0])
    resume = any((work / "checkpoints").glob("checkpoint-*"))
    if resume:
        ctx.log.info("resuming from the last checkpoint in %s", work / "checkpoints")
    started = time.monotonic()
    result = trainer.train(resume_from_checkpoint=resume or None)
    seconds = time.monotonic() - started
    history = trainer.state.log_history
    final_eval = trainer.evaluate() if evaluate else {}
    tokens = sum(len(r["input_ids"]) for r in rows["train"]) * max(1.0, cfg.num_train_epochs)
    return {
        "trainer": trainer,
        "steps": trainer.state.global_step,
        "train_loss": result.training_loss,
        "train_losses": [h["loss"] for h in history if "loss" in h],
        "eval_losses": [h["eval_loss"] for h in history if "eval_loss" in h],
        "eval_loss": final_eval.get("eval_loss"),
        "train_examples": len(rows["train"]),
        "eval_examples": len(rows["eval"]),
        "max_length": max_length,
        "lora_target_modules": targets,
        "resumed": resume,
        "seconds": round(seconds, 2),
        "tokens_per_second": round(tokens / seconds, 1) if seconds else None,
        "device": "cuda" if cuda else "cpu",
        "world_size": trainer.args.world_size,
        "dtype": str(load["dtype"]).replace("torch.", ""),
    }


def _check_labels(trainer, row: dict) -> None:
    """Look at the labels a real batch carries: only the assistant's tokens may count."""
    batch = trainer.data_collator([trainer.train_dataset[0]])
    labels = batch["labels"][0].tolist()
    expected = [t if m else -100 for t, m in zip(row["input_ids"], row["assistant_masks"])]
    if labels[: len(expected)] != expected[: len(labels)]:
        raise StageError("the training batch's labels do not follow the assistant mask; refusing to train on "
                         "the wrong tokens (this TRL version prepares data differently)")


def merge(cfg: TrainConfig, encoder, adapter: Path, target: Path, rows: list[dict]) -> dict:
    """Merge the adapter into full weights and check: same logits as base + adapter on fixed inputs."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(cfg.base_model, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter)).eval()
    probes = [torch.tensor([r["input_ids"][:128]]) for r in rows[:3]]
    with torch.no_grad():
        expected = [model(ids).logits for ids in probes]
        merged = model.merge_and_unload()
        got = [merged(ids).logits for ids in probes]
    diff = max(float((a - b).abs().max()) for a, b in zip(expected, got))
    merged.save_pretrained(target)
    encoder.save(target)
    return {"max_abs_logit_diff": diff, "tolerance": cfg.merge_tolerance, "ok": diff <= cfg.merge_tolerance,
            "probes": len(probes), "path": "artifacts/train/merged"}
