"""Mistral 3 (`Mistral3ForConditionalGeneration`, the class of Ministral 3 and Mistral Small 3.1+): a tiny random one
(built-in, with a one-layer vision tower) trained text-only through the train stage, LoRA on its language model only,
read back as evaluate reads it, and merged; and the merge check in half precision."""

from __future__ import annotations

import json

from generate_dir import chat, passages, publish_generate

from tube2lora_models.base_model import BUILTIN_MISTRAL3, resolve_base_model
from tube2lora_shared.config import load_config
from tube2lora_shared.documents import TrainedAdapter
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.rundir import RunDir
from tube2lora_train.cli import SPEC as TRAIN


def test_a_mistral3_checkpoint_trains_text_only_lora_on_its_language_model(recipe):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig

    from tube2lora_evaluate.scoring import perplexity
    from tube2lora_models.adapted import load_adapted
    from tube2lora_models.chat import MistralChatEncoder

    path = recipe(train={"base_model": BUILTIN_MISTRAL3, "tokenizer": "mistral:v3", "max_steps": 4, "lora_r": 4,
                         "learning_rate": 0.01, "eval_share": 0, "merge": True})
    texts = passages(2, 2)
    publish_generate(path, texts, chats=[chat(p, "How do you look after a chain?") for p in texts])
    assert run_stage(TRAIN, path) == 0
    run = RunDir.for_config(load_config(path))
    base = resolve_base_model(BUILTIN_MISTRAL3, load_config(path).cache_dir)
    assert AutoConfig.from_pretrained(base).architectures == ["Mistral3ForConditionalGeneration"]
    adapter = run.artifacts_dir("train") / "adapter"
    trained = load_file(str(adapter / "adapter_model.safetensors"))
    assert trained and all(".language_model." in name for name in trained)  # no vision tower, no projector
    assert len([n for n in trained if n.endswith("lora_A.weight")]) == 2 * 7  # 2 layers x 7 projections
    metrics = json.loads((run.stage_dir("train") / "training_metrics.json").read_text())
    assert metrics["labels_checked"] == ["own_words", "monologue"] and metrics["steps"] == 4
    assert metrics["merge_check"]["ok"] and metrics["merge_check"]["device"] == "cpu"

    decided = TrainedAdapter.read(run.stage_dir("train"))
    model = load_adapted(decided.base_model_location(load_config(path).cache_dir), str(adapter))
    encoder = MistralChatEncoder("v3")
    rows = [(encoder.text(p.text), [1] * len(encoder.text(p.text))) for p in texts]
    with torch.no_grad():
        base_ppl, adapted_ppl = perplexity(model, rows, False), perplexity(model, rows, True)
    assert base_ppl and adapted_ppl and adapted_ppl < base_ppl  # it learned the training text, from text alone


def test_the_merge_check_in_bf16_allows_rounding_and_still_catches_a_wrong_merge(recipe, tiny_mistral, tmp_path,
                                                                                  monkeypatch):
    import torch
    from peft.tuners.lora import LoraModel

    from tube2lora_models.chat import MistralChatEncoder
    from tube2lora_models.loading import Placement
    from tube2lora_models.merge import merge

    path = recipe(train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "max_steps": 3,
                         "learning_rate": 0.01, "lora_r": 4, "eval_share": 0})
    publish_generate(path, passages(2, 2))
    assert run_stage(TRAIN, path) == 0
    adapter = RunDir.for_config(load_config(path)).artifacts_dir("train") / "adapter"
    encoder = MistralChatEncoder("v3")
    probes = [encoder.text("Here's the thing: one drop per roller, then wipe the outside.")]
    half = Placement("cpu", torch.bfloat16)  # the GPU path's precision, on this CPU
    check = merge(str(tiny_mistral), encoder, adapter, tmp_path / "merged", probes, 1e-3, where=half)
    assert check["ok"] and check["compared_in"] == "bfloat16" and check["tolerance"] > 1e-3
    assert check["dtype"] == "float32"  # saved in the base's own dtype (the tiny model's config says float32)

    real = LoraModel.merge_and_unload

    def wrong(self, *args, **kwargs):  # a faulty merge: three times the update the adapter applies
        for module in self.modules():
            if hasattr(module, "lora_B") and "default" in module.lora_B:
                module.lora_B["default"].weight.data *= 3
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LoraModel, "merge_and_unload", wrong)
    bad = merge(str(tiny_mistral), encoder, adapter, tmp_path / "merged-wrong", probes, 1e-3, where=half)
    assert not bad["ok"] and bad["max_abs_logit_diff"] > bad["tolerance"]
