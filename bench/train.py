"""Benchmark: the train stage against a plain TRL script on the same tiny model and data, same run.

    uv run python bench/train.py [--steps 30]

Model: a random 2-layer, 64-wide MistralForCausalLM with the real Mistral v3 tokenizer (CPU, fp32).
Data: 40 talk-as-creator conversations. Baseline: `SFTTrainer` + the same LoRA settings on the same
pre-tokenized rows (input_ids + assistant_masks) and the same precision and checkpointing choices,
nothing else. Stage: `tube2lora-train` through the
lifecycle. Both time `trainer.train()` only; tokens/s = supervised-or-not tokens fed per second.
Prints both, the ratio (target >= 0.90x) and the padding share of the training batches.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from tube2lora_demo.stage_fixtures import publish_records
from tube2lora_shared.config import load_config
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.records import ChatExample, Provenance
from tube2lora_shared.rundir import RunDir
from tube2lora_models.base_model import BUILTIN, resolve_base_model
from tube2lora_models.chat import MistralChatEncoder
from tube2lora_train.cli import SPEC

LORA = {"lora_r": 8, "lora_alpha": 16}


def chats() -> list[ChatExample]:
    return [ChatExample(messages=[
        {"role": "system", "content": "You are Toby Fenwick."},
        {"role": "user", "content": f"Question {i}: how do I look after my chain" + " really" * (i % 7) + "?"},
        {"role": "assistant", "content": "Here's the thing: one drop per roller, then wipe the outside." * (1 + i % 3)}],
        provenance=Provenance(generator="talk_as_creator", generator_version="0", prompt="p", model="m",
                              video_id=f"v{i % 8}", chunk_index=i, start=0, end=1, source_sha256="0" * 64))
        for i in range(40)]


def baseline(model_dir: Path, rows: list[dict], steps: int, out: Path) -> tuple[float, float]:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    encoder = MistralChatEncoder("v3")
    args = SFTConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=4, learning_rate=2e-4,
                     report_to=[], save_strategy="no", use_cpu=True, pad_token="</s>", max_length=256, seed=42,
                     disable_tqdm=True, gradient_checkpointing=False, bf16=False)  # the stage's choices on CPU:
    # TRL's own defaults (gradient checkpointing on, bf16 autocast even on CPU) made this script 2x slower
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), args=args,
                         train_dataset=Dataset.from_list(rows), processing_class=encoder.processing_class(),
                         peft_config=LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, task_type="CAUSAL_LM",
                                                target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                                "up_proj", "down_proj"]))
    batches = list(trainer.get_train_dataloader())
    padding = sum(int((b["attention_mask"] == 0).sum()) for b in batches) / sum(b["attention_mask"].numel()
                                                                               for b in batches)
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start, padding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = Path(resolve_base_model(BUILTIN, tmp / "cache"))
        encoder = MistralChatEncoder("v3")
        rows = [dict(zip(("input_ids", "assistant_masks"), encoder.encode(c.messages))) for c in chats()]
        tokens = sum(len(r["input_ids"]) for r in rows)
        base_times, stage_times = [], []
        for n in range(2):
            seconds, padding = baseline(model_dir, rows, args.steps, tmp / f"plain{n}")
            base_times.append(seconds)
            recipe = tmp / f"stage{n}.yaml"
            recipe.write_text(yaml.safe_dump({"paths": {"runs_dir": str(tmp / f"runs{n}")}, "train": {
                "base_model": str(model_dir), "tokenizer": "mistral:v3", "max_steps": args.steps,
                "per_device_train_batch_size": 4, "eval_share": 0, "max_length": 256, "save_steps": 10**6,
                "mix": {"own_words": 0, "talk_as_creator": 1, "monologue": 0}, **LORA,
                # the plain script's TRL defaults (bench/packing.py measures packing)
                "packing": False, "lr_scheduler_type": "linear", "warmup_ratio": 0.0}}))  # the same rows
            publish_records(recipe, "generate", "talk_as_creator/dataset_messages.jsonl", chats())
            assert run_stage(SPEC, recipe) == 0
            metrics = json.loads((RunDir.for_config(load_config(recipe)).stage_dir("train") /
                                  "training_metrics.json").read_text())
            stage_times.append(metrics["seconds"])
    fed = args.steps * 4 * tokens / len(rows)  # tokens per step (mean example) x steps
    base, stage = statistics.median(base_times), statistics.median(stage_times)
    print("runs:", [round(t, 2) for t in base_times], [round(t, 2) for t in stage_times])
    print(f"{args.steps} steps, batch 4, tiny Mistral on CPU; medians of 2 interleaved runs; padding share {padding:.1%}")
    print(f"  plain TRL script: {base:6.2f} s  {fed / base:8.0f} tokens/s")
    print(f"  train stage:      {stage:6.2f} s  {fed / stage:8.0f} tokens/s")
    print(f"ratio {base / stage:.2f}x of the plain script's tokens/s (target >= 0.90x)")


if __name__ == "__main__":
    main()
