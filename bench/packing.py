"""Benchmark: padding-free packing (train.packing: true, the default) against padded batches, on the demo's data.

    make demo                                   # once: the demo's generate stage is the data
    uv run python bench/packing.py [--repeats 2] [--config configs/demo.yaml]

Data: the training rows the train stage builds from the demo run's `stages/generate/` (its own_words chats and
monologue passages of the training videos, mixed by the recipe's `train.mix`), encoded with the recipe's base model
and tokenizer (SmolLM2-135M-Instruct by default). Both arms train the same rows for one epoch with the recipe's LoRA
settings and batch size through the stage's own trainer (trainer.fit), interleaved, on this machine; tokens/s counts
the rows' tokens fed to the model (padding not counted). Prints both, the padding share of the padded batches and the
ratio (target >= 1.3x).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
from pathlib import Path

from tube2lora_models.base_model import resolve_base_model
from tube2lora_models.chat import load_encoder
from tube2lora_shared.config import load_config
from tube2lora_shared.rundir import RunDir
from tube2lora_train.config import TrainConfig
from tube2lora_train.mixing import encode, max_length, mix
from tube2lora_train.sources import read_sources
from tube2lora_train.trainer import build, fit

TARGET = 1.3


def rows_of(config: Path) -> tuple[TrainConfig, str, object, list[dict]]:
    recipe = load_config(config)
    cfg = recipe.section("train", TrainConfig)
    run = RunDir.for_config(recipe)
    split = run.stage_dir("train") / "split.json"  # the demo's own train/held-out split
    generated = run.stage_dir("generate")
    if not (generated / "manifest.json").is_file() or not split.is_file():
        raise SystemExit(f"no finished demo run in {run.root}: run `make demo` first")
    train_videos = set(json.loads(split.read_text())["train"])
    weights = cfg.mix.model_dump()
    base_model = resolve_base_model(cfg.base_model, recipe.cache_dir)
    encoder = load_encoder(cfg.tokenizer, base_model)
    encoded = encode(encoder, [r for r in read_sources(generated, weights) if r["video"] in train_videos])
    chosen, _, _ = mix(encoded, weights, cfg.seed)
    return cfg, base_model, encoder, chosen


def padding_share(cfg: TrainConfig, base_model: str, encoder, rows: list[dict], length: int, work: Path) -> float:
    trainer, _, _ = build(cfg.model_copy(update={"packing": False}), base_model, encoder, {"train": rows, "eval": []},
                          length, work)
    batches = list(trainer.get_train_dataloader())
    return sum(int((b["attention_mask"] == 0).sum()) for b in batches) / sum(b["attention_mask"].numel()
                                                                            for b in batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("configs/demo.yaml"))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    cfg, base_model, encoder, rows = rows_of(args.config)
    length = max_length(rows, cfg.max_length, cfg.max_length_cap)
    tokens = sum(len(r["input_ids"]) for r in rows)
    cfg = cfg.model_copy(update={"max_steps": -1, "num_train_epochs": 1.0, "eval_share": 0.0,
                                 "early_stopping_patience": 0, "save_steps": 10**6, "logging_steps": 10**6})
    speeds: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        padding = padding_share(cfg, base_model, encoder, rows, length, Path(tmp) / "probe")
        for n in range(args.repeats):
            for packing in (False, True):
                _, metrics = fit(cfg.model_copy(update={"packing": packing}), base_model, encoder,
                                 {"train": rows, "eval": []}, length, Path(tmp) / f"{packing}{n}",
                                 logging.getLogger("bench"))
                speeds[packing].append(metrics.tokens_per_second)
                print(f"  run {n + 1}, packing {str(packing).lower():5}: {metrics.steps:3d} steps "
                      f"{metrics.seconds:7.1f} s {metrics.tokens_per_second:8.1f} tokens/s", flush=True)
    padded, packed = statistics.median(speeds[False]), statistics.median(speeds[True])
    print(f"{len(rows)} rows, {tokens} tokens, max_length {length}, batch {cfg.per_device_train_batch_size}, "
          f"{cfg.base_model}; medians of {args.repeats} interleaved runs; padding share of the padded batches "
          f"{padding:.1%}")
    print(f"  padded batches:  {padded:8.1f} tokens/s")
    print(f"  packed (no pad): {packed:8.1f} tokens/s")
    print(f"ratio {packed / padded:.2f}x (target >= {TARGET}x)")


if __name__ == "__main__":
    main()
