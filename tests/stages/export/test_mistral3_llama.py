"""A Mistral 3 adapter in the real llama.cpp (tier `llm`: `.tools/llm-server`'s llama-cpp-python, which knows the
mistral3 architecture): over a GGUF of builtin:tiny-random-mistral3's text model (tiny_gguf.py writes it as
convert_hf_to_gguf.py would), the converted GGUF adapter gives llama.cpp the per-token log-likelihoods PEFT gives;
without the q/k row order it does not; a base GGUF of the `llama` architecture (earlier converters) takes the adapter
written as `llama`; and the export stage's check passes on a trained Mistral 3 adapter, and fails with the
ratio criterion's sentence when the GGUF adapter's alpha is wrong."""

from __future__ import annotations

import json
import random
import re

import pytest
from stages.export.test_gguf_lora import save_lora
from stages.export.tiny_gguf import write_base_gguf
from stages.train.generate_dir import passages, publish_generate

from tube2lora_export import gguf_lora
from tube2lora_export.cli import SPEC as EXPORT
from tube2lora_export.llamacpp import interpreter, llamacpp_scores
from tube2lora_export.token_scores import peft_scores
from tube2lora_shared.config import load_config
from tube2lora_shared.documents import ExportedAdapter
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.rundir import RunDir
from tube2lora_train.cli import SPEC as TRAIN

pytestmark = pytest.mark.llm


def windows() -> list[list[int]]:
    rng = random.Random(0)
    return [[1] + [rng.randrange(300, 32768) for _ in range(n)] for n in (40, 30)]


def largest_gap(llama: list[dict], peft: list[dict]) -> float:
    return max(abs(a - b) for wl, wp in zip(llama, peft) for a, b in zip(wl["nll"], wp["nll"]))


def test_llama_cpp_applies_a_mistral3_gguf_adapter_as_peft_does(tiny_mistral3, tmp_path, monkeypatch):
    config = json.loads((tiny_mistral3 / "config.json").read_text())
    base = write_base_gguf(tiny_mistral3, tmp_path / "base.gguf")
    adapter = save_lora(tiny_mistral3, tmp_path / "adapter")  # every lora_B random: the adapter moves the model a lot
    assert gguf_lora.convert(adapter, config, tmp_path / "adapter.gguf", "mistral3").architecture == "mistral3"
    python, ids = interpreter(None), windows()
    peft = peft_scores(str(tiny_mistral3), adapter, ids)
    assert largest_gap(peft["adapter"], peft["base"]) > 0.3
    assert largest_gap(llamacpp_scores(python, base, None, ids), peft["base"]) < 1e-3  # the base GGUF is right
    with_adapter = llamacpp_scores(python, base, tmp_path / "adapter.gguf", ids)
    assert largest_gap(with_adapter, peft["adapter"]) < 0.02  # measured 0.0045 (random B: large deltas)
    assert all(a["top1"] == b["top1"] for a, b in zip(with_adapter, peft["adapter"]))

    monkeypatch.setitem(gguf_lora.ARCHITECTURES, "Mistral3ForConditionalGeneration",
                        gguf_lora.ARCHITECTURES["Mistral3ForConditionalGeneration"]._replace(permuted=False))
    gguf_lora.convert(adapter, config, tmp_path / "unpermuted.gguf")
    # measured 0.50: llama.cpp applies the q/k deltas to the wrong rows
    assert largest_gap(llamacpp_scores(python, base, tmp_path / "unpermuted.gguf", ids), peft["adapter"]) > 0.1
    monkeypatch.undo()

    old_base = write_base_gguf(tiny_mistral3, tmp_path / "llama-base.gguf", architecture="llama")
    assert gguf_lora.convert(adapter, config, tmp_path / "llama.gguf", "llama").architecture == "llama"
    assert largest_gap(llamacpp_scores(python, old_base, tmp_path / "llama.gguf", ids), peft["adapter"]) < 0.02


def trained_mistral3(recipe, tiny_mistral3, tmp_path):
    """(a recipe whose train stage trained a LoRA on the tiny Mistral 3, the GGUF of its text model that export
    checks against)."""
    from tube2lora_models.base_model import BUILTIN_MISTRAL3

    base = write_base_gguf(tiny_mistral3, tmp_path / "base.gguf")
    path = recipe(train={"base_model": BUILTIN_MISTRAL3, "tokenizer": "mistral:v3", "max_steps": 4, "lora_r": 4,
                         "learning_rate": 0.01, "eval_share": 0.25},
                  export={"base_gguf": str(base), "check_windows": 2, "check_window_tokens": 64})
    publish_generate(path, passages())
    assert run_stage(TRAIN, path) == 0
    return path, base


def test_the_export_check_passes_on_a_trained_mistral3_adapter(recipe, tiny_mistral3, tmp_path):
    path, base = trained_mistral3(recipe, tiny_mistral3, tmp_path)
    assert run_stage(EXPORT, path) == 0
    run = RunDir.for_config(load_config(path))
    exported = ExportedAdapter.read(run.stage_dir("export"))
    assert exported.architecture == "mistral3" and exported.base_gguf == str(base)
    check = exported.check
    assert check["ratio_ok"] and check["agreement_ok"] and check["tokens"] >= 32
    assert check["ratio"]["peft"] != 1.0  # the adapter moves the model, and llama.cpp sees it move alike
    assert abs(check["ratio_gap"]) < 0.01  # measured x0.7567 on both sides, 100% top-1 agreement (f32 base GGUF)


def test_a_gguf_adapter_that_changes_perplexity_unlike_peft_fails_the_stage(recipe, tiny_mistral3, tmp_path,
                                                                            monkeypatch):
    """A converter that gets alpha wrong (three times PEFT's scale) moves llama.cpp's perplexity further than PEFT's:
    the ratio criterion fails the stage with its sentence, and nothing is published."""
    from tube2lora_shared.manifest import read_manifest

    path, _ = trained_mistral3(recipe, tiny_mistral3, tmp_path)
    right = gguf_lora.gguf_alpha
    monkeypatch.setattr(gguf_lora, "gguf_alpha", lambda config, ranks: 3 * right(config, ranks))
    assert run_stage(EXPORT, path) == 1
    run = RunDir.for_config(load_config(path))
    assert read_manifest(run.stage_dir("export")) is None and not run.artifacts_dir("export").exists()
    failed = [line for line in run.log_file.read_text().splitlines() if " ERROR " in line]
    assert len(failed) == 1 and re.search(
        r"llama\.cpp with the GGUF adapter changes perplexity by x0\.\d{3}, PEFT by x0\.\d{3}: \d+\.\d% apart "
        r"\(> export\.ppl_ratio_tolerance 5%\); the GGUF adapter is not trustworthy, the PEFT adapter is kept$",
        failed[0]), failed
