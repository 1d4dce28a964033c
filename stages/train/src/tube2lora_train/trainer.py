"""TRL's SFTTrainer with a PEFT LoRA adapter: load the base model, configure, check the labels a real batch
carries, train with evaluation on the held-out rows (the best checkpoint is kept and, with
`early_stopping_patience`, training stops when the eval loss stops improving), resume from the last
checkpoint in `work`, and measure."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from tube2lora_models.loading import Placement, load_base, lora_targets, placement
from tube2lora_shared.documents import TrainingMetrics
from tube2lora_shared.errors import StageError, UsageError

from .config import CUDA_OPTIMIZERS, TrainConfig

COLUMNS = ("input_ids", "assistant_masks")  # what the trainer sees of a row


def build(cfg: TrainConfig, base_model: str, encoder, rows: dict, max_length: int, work: Path,
          where: Placement | None = None):
    """(the SFTTrainer, the LoRA target modules, the dtype name); checkpoints and TensorBoard logs go to `work`.
    `where`: the preflight's placement (default: this process's GPU, else the CPU; the CPU with train.device: cpu)."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import EarlyStoppingCallback
    from trl import SFTConfig, SFTTrainer

    where = where or placement(use_cpu=cfg.device == "cpu")
    cuda = where.device == "cuda"
    _check_optimizer(cfg.optim, cuda)
    model = load_base(base_model, where, cfg.load_in_4bit)
    targets, peft_targets = lora_targets(model, cfg.lora_target_modules)
    peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                             target_modules=peft_targets, use_rslora=cfg.use_rslora, use_dora=cfg.use_dora,
                             task_type="CAUSAL_LM")
    bf16 = cuda and where.dtype_name == "bfloat16"
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(work / "tensorboard")
    evaluate = bool(rows["eval"])
    args = SFTConfig(
        output_dir=str(work / "checkpoints"), learning_rate=cfg.learning_rate, num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps, per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        warmup_steps=cfg.warmup_ratio,  # transformers 5 takes the warmup ratio as a float warmup_steps in [0, 1)
        lr_scheduler_type=cfg.lr_scheduler_type, weight_decay=cfg.weight_decay, optim=cfg.optim,
        gradient_checkpointing=cfg.gradient_checkpointing, max_length=max_length, packing=cfg.packing,
        packing_strategy="bfd",  # whole rows, padding-free: each row's position ids restart, so it attends to itself
        seed=cfg.seed, logging_steps=cfg.logging_steps, save_strategy="steps",
        save_steps=cfg.save_steps or cfg.eval_steps, save_total_limit=2,
        eval_strategy="steps" if evaluate else "no", eval_steps=cfg.eval_steps,
        load_best_model_at_end=evaluate, metric_for_best_model="eval_loss" if evaluate else None,
        greater_is_better=False if evaluate else None, report_to=["tensorboard"],
        bf16=bf16, fp16=cuda and not bf16, use_cpu=not cuda, pad_token=encoder.pad_token,
        include_num_input_tokens_seen="all" if cfg.packing else "non_padding",  # packed batches have no padding
        disable_tqdm=True,
    )
    callbacks = [_evaluate_at_the_end()] if evaluate else []
    if evaluate and cfg.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    trainer = SFTTrainer(model=model, args=args, train_dataset=_dataset(Dataset, rows["train"]),
                         eval_dataset=_dataset(Dataset, rows["eval"]) if evaluate else None,
                         processing_class=encoder.processing_class(), peft_config=peft_config, callbacks=callbacks)
    return trainer, targets, where.dtype_name


def fit(cfg: TrainConfig, base_model: str, encoder, rows: dict, max_length: int, work: Path,
        log: logging.Logger, where: Placement | None = None):
    """(the trainer holding the best model, its metrics)."""
    trainer, targets, dtype = build(cfg, base_model, encoder, rows, max_length, work, where)
    checked = check_labels(trainer, rows["train"])
    resume = any((work / "checkpoints").glob("checkpoint-*"))
    if resume:
        log.info("resuming from the last checkpoint in %s", work / "checkpoints")
    started = time.monotonic()
    result = trainer.train(resume_from_checkpoint=resume or None)
    seconds = time.monotonic() - started
    state = trainer.state
    history = list(state.log_history)
    final_eval = trainer.evaluate() if rows["eval"] else {}  # of the best model, loaded at the end
    if state.best_global_step:
        log.info("kept the best checkpoint: step %d of %d, eval loss %.4f", state.best_global_step,
                 state.global_step, state.best_metric)
    tokens = state.num_input_tokens_seen  # the rows' tokens fed to the model (padding not counted)
    return trainer, TrainingMetrics(
        steps=state.global_step,
        train_loss=result.training_loss,
        train_losses=[h["loss"] for h in history if "loss" in h],
        eval_losses=[h["eval_loss"] for h in history if "eval_loss" in h],
        eval_loss=final_eval.get("eval_loss"),
        best_step=state.best_global_step,
        best_eval_loss=state.best_metric,
        stopped_early=state.global_step < state.max_steps,
        train_examples=len(rows["train"]),
        eval_examples=len(rows["eval"]),
        max_length=max_length,
        lora_target_modules=targets,
        labels_checked=checked,
        resumed=resume,
        seconds=round(seconds, 2),
        tokens_per_second=round(tokens / seconds, 1) if seconds else None,
        device="cuda" if trainer.args.device.type == "cuda" else "cpu",
        world_size=trainer.args.world_size,
        dtype=dtype,
    )


def release(trainer) -> None:
    """Drop the trainer's model and optimizer and give their GPU memory back."""
    import gc

    import torch

    trainer.model = trainer.model_wrapped = trainer.optimizer = None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def check_labels(trainer, rows: list[dict]) -> list[str]:
    """Look at the labels a real collated batch carries for the first row of each source: exactly the tokens
    its mask trains (a chat's assistant turns, every token of a monologue row) may count. With packing, the row
    is found inside its packed sequence. The label at a row's first position is never a prediction target (the
    loss predicts token t from the tokens before it), so it is not compared. The sources checked."""
    checked = []
    for source in dict.fromkeys(r["source"] for r in rows):
        row = next(r for r in rows if r["source"] == source)
        labels = _collated_labels(trainer, row)
        expected = [t if m else -100 for t, m in zip(row["input_ids"], row["assistant_masks"])]
        if labels is None or labels[1: len(expected)] != expected[1: len(labels)]:
            raise StageError(f"the training batch's labels for a {source} row do not follow its mask; refusing to "
                             "train on the wrong tokens (this TRL version prepares data differently)")
        checked.append(source)
    return checked


def _collated_labels(trainer, row: dict) -> list[int] | None:
    """The labels the data collator gives `row`: collated alone, or, packed, the span of the packed sequence that
    holds it (None when no training sequence holds it)."""
    for item in trainer.train_dataset:  # found by its tokens; only the sequence holding it is collated
        start = 0
        for length in item.get("seq_lengths") or [len(item["input_ids"])]:
            if item["input_ids"][start: start + length] == row["input_ids"]:
                return trainer.data_collator([item])["labels"][0].tolist()[start: start + length]
            start += length
    return None


def _check_optimizer(name: str, cuda: bool) -> None:
    from transformers.training_args import OptimizerNames

    if name not in {o.value for o in OptimizerNames}:
        raise UsageError(f"train.optim: {name!r} is not a transformers optimizer (adamw_torch, adamw_torch_fused, "
                         "adafactor, adamw_8bit, paged_adamw_8bit, ...: transformers.training_args.OptimizerNames)")
    if name in CUDA_OPTIMIZERS and not cuda:
        raise UsageError(f"train.optim: {name} keeps its state through bitsandbytes on a CUDA GPU; this machine has "
                         "none. Use adamw_torch on CPU")


def _evaluate_at_the_end():
    """A callback that evaluates (and so lets the best-checkpoint choice see) the last step too, when it
    does not fall on `eval_steps`."""
    from transformers import TrainerCallback

    class EvaluateAtTheEnd(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if control.should_training_stop and state.global_step % args.eval_steps:
                control.should_evaluate = True
                control.should_save = True
            return control

    return EvaluateAtTheEnd()


def _dataset(dataset_class, rows: list[dict]):
    return dataset_class.from_list([{k: r[k] for k in COLUMNS} for r in rows])
