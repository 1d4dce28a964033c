"""The export stage after a real (tiny) training run: its files, its command lines, its card, merged weights in the
base's dtype, train's adapter untouched; and the Modelfile / command-line text on their own."""

from __future__ import annotations

import hashlib
import json
import math
import shlex
import subprocess
import sys
from pathlib import Path

import yaml
from stages.export.test_gguf_lora import save_lora
from stages.train.generate_dir import passages, publish_generate

from tube2lora_export.cli import SPEC as EXPORT
from tube2lora_export.serving import llama_server_command, modelfile, stop_tokens, vllm_command
from tube2lora_export.summary import lines as summary_lines
from tube2lora_shared.config import load_config
from tube2lora_shared.documents import ExportedAdapter
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_train.cli import SPEC as TRAIN

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}")


def digest(directory) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def bfloat16_copy(base_dir, target):
    """The tiny model saved in bfloat16, as most hub models are: the merged weights must stay bfloat16."""
    import torch
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.bfloat16).save_pretrained(target)
    return target


def test_export_after_training(recipe, tiny_mistral, tmp_path):
    tiny_mistral = bfloat16_copy(tiny_mistral, tmp_path / "tiny-bf16")
    path = recipe(train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "max_steps": 2, "lora_r": 4,
                         "lora_alpha": 8, "eval_steps": 1, "logging_steps": 1, "eval_share": 0.25},
                  export={"merged": True, "name": "toby"})
    publish_generate(path, passages())
    assert run_stage(TRAIN, path) == 0
    run = RunDir.for_config(load_config(path))
    trained = digest(run.artifacts_dir("train") / "adapter")

    assert run_stage(EXPORT, path) == 0
    assert digest(run.artifacts_dir("train") / "adapter") == trained  # train's adapter is read, never written
    exported = ExportedAdapter.read(run.stage_dir("export"))
    assert exported.check is None and exported.check_skipped == "no GGUF of the base model (export.base_gguf)"
    assert (exported.architecture, exported.rank, exported.lora_alpha) == ("llama", 4, 8.0)
    assert (run.root / exported.gguf_path).stat().st_size > 0
    assert read_manifest(run.stage_dir("export")).items["adapter"].status == "success"

    card = (run.root / exported.adapter_path / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["base_model"] == str(tiny_mistral) and front["library_name"] == "peft" and "lora" in front["tags"]
    assert front["license"] == "other" and "creator holds the rights" in card
    assert "- videos: 3 for training, 1 held out" in card and "LoRA r 4, alpha 8" in card
    assert "- the creator's verbatim passages" not in card  # this generate fixture counts none
    assert ("- adapter.gguf was not checked against this PEFT adapter (no GGUF of the base model (export.base_gguf)): "
            "it may not act as the PEFT adapter does in llama.cpp. To check it, set export.base_gguf") in card
    assert f"- BASE.gguf: a GGUF of {tiny_mistral}, made with llama.cpp's convert_hf_to_gguf.py" in card
    assert (run.root / exported.adapter_path / "adapter_model.safetensors").exists()

    text = (run.root / exported.modelfile_path).read_text()
    assert f"\nFROM {tiny_mistral}\n" in text and "replace it with the same model in Ollama" in text
    assert "\nADAPTER ./adapter.gguf\n" in text and 'SYSTEM """You are Toby Fenwick' in text
    assert 'PARAMETER stop "</s>"' in text and 'PARAMETER stop "[INST]"' in text  # Mistral's turn ends

    merged = run.root / exported.merged_path
    assert json.loads((merged / "config.json").read_text())["dtype"] == "bfloat16"
    from safetensors import safe_open

    with safe_open(merged / "model.safetensors", "pt") as weights:
        assert {str(weights.get_tensor(k).dtype) for k in weights.keys()} == {"torch.bfloat16"}
        assert not any("lora" in k for k in weights.keys())

    shown = "\n".join(summary_lines(run, read_manifest(run.stage_dir("export"))))
    assert "check    not run: no GGUF of the base model" in shown
    vllm = next(line for line in shown.splitlines() if line.strip().startswith("vllm "))
    assert shlex.split(vllm)[1:] == ["vllm", "serve", str(tiny_mistral), "--enable-lora", "--lora-modules",
                                     f"toby={run.root / exported.adapter_path}", "--max-lora-rank", "8"]
    # no GGUF of the base: llama.cpp's line names a placeholder, and the notes say how to make it and where it goes
    server = next(line for line in shown.splitlines() if line.strip().startswith("llama.cpp "))
    assert shlex.split(server)[1:6] == ["llama-server", "-m", "BASE.gguf", "--lora", str(run.root / exported.gguf_path)]
    lines = [line.strip() for line in shown.splitlines()]
    ollama = next(i for i, line in enumerate(lines) if line.startswith("ollama "))
    assert lines[ollama + 1].startswith("note     the Modelfile's FROM")  # right under the line it is about
    notes = [line for line in lines if line.startswith("note ")]
    assert notes == [f"note     the Modelfile's FROM names the Hugging Face model {tiny_mistral}, which Ollama cannot "
                     "load: point FROM at a GGUF of that model (BASE.gguf) before `ollama create`",
                     f"note     BASE.gguf: a GGUF of {tiny_mistral}, made with llama.cpp's convert_hf_to_gguf.py "
                     "(`python convert_hf_to_gguf.py <the model's directory> --outtype f16 --outfile BASE.gguf`); set "
                     "export.base_gguf to it and re-run export to have the GGUF adapter checked against it and these "
                     "lines written with its path"]


def test_an_adapter_with_trained_embeddings_is_refused_in_one_line(recipe, tiny_mistral):
    path = recipe(train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "max_steps": 1, "eval_share": 0.25})
    publish_generate(path, passages())
    assert run_stage(TRAIN, path) == 0
    run = RunDir.for_config(load_config(path))
    adapter = run.artifacts_dir("train") / "adapter"  # as if trained with modules_to_save: embeddings and lm_head
    save_lora(tiny_mistral, adapter, modules_to_save=["embed_tokens", "lm_head"])
    done = subprocess.run([str(Path(sys.executable).parent / "tube2lora-export"), "--config", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and errors[0].endswith(
        "the adapter carries fully trained modules (embed_tokens, lm_head: trained embeddings or lm_head, "
        "modules_to_save), which a GGUF LoRA adapter cannot hold: train without modules_to_save, or use merged "
        "weights (train.merge: true)")
    assert read_manifest(run.stage_dir("export")) is None and (adapter / "adapter_model.safetensors").exists()


def test_check_without_a_gguf_base_is_a_usage_error(recipe, tiny_mistral):
    path = recipe(train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "max_steps": 1, "eval_share": 0.25},
                  export={"check": True})
    publish_generate(path, passages())
    assert run_stage(TRAIN, path) == 0
    assert run_stage(EXPORT, path) == 2
    assert read_manifest(RunDir.for_config(load_config(path)).stage_dir("export")) is None


def test_modelfile_and_command_lines_are_well_formed():
    stops = stop_tokens(CHATML, "<|im_end|>")
    assert stops == ["<|im_end|>", "<|im_start|>"]
    text = modelfile("/models/base.gguf", True, "./adapter.gguf", 'You are "Toby".', stops)
    instructions = [line.split(" ", 1) for line in text.splitlines() if line and not line.startswith("#")]
    assert [i[0] for i in instructions] == ["FROM", "ADAPTER", "SYSTEM", "PARAMETER", "PARAMETER"]
    assert instructions[2][1] == '"""You are "Toby"."""'
    assert [shlex.split(i[1]) for i in instructions[3:]] == [["stop", "<|im_end|>"], ["stop", "<|im_start|>"]]
    assert "replace it" not in text  # a GGUF file needs no note

    server = shlex.split(llama_server_command("/m/base model.gguf", "/r/adapter.gguf"))
    assert server[:5] == ["llama-server", "-m", "/m/base model.gguf", "--lora", "/r/adapter.gguf"]
    for rank, allowed in ((4, 8), (8, 8), (12, 16), (64, 64), (100, 128)):  # vLLM takes only its listed ranks
        assert shlex.split(vllm_command("org/base", "toby", "/r/adapter", rank))[-2:] == ["--max-lora-rank", str(allowed)]


def test_agreement_allows_counting_noise_and_catches_a_wrong_conversion():
    """The check's arithmetic on 532 scored tokens, as on the demo: 3 tokens fewer in agreement with the adapter
    (a correct conversion, measured once) pass; 33 fewer (a wrong q/k row order, measured) fail."""
    from tube2lora_export.equivalence import compare, failure

    def windows(agreeing: int, of: int = 532, nll: float = 1.0) -> list[dict]:
        return [{"nll": [nll] * of, "top1": list(range(of))}], [{"nll": [nll] * of,
                                                                 "top1": list(range(agreeing)) + [-1] * (of - agreeing)}]

    def check(adapter_agreeing: int) -> dict:
        llama_base, peft_base = windows(510)
        llama_adapter, peft_adapter = windows(adapter_agreeing, nll=0.6)
        return compare({"base": llama_base, "adapter": llama_adapter}, {"base": peft_base, "adapter": peft_adapter},
                       0.05)

    assert round(check(510)["agreement_margin"], 3) == 0.017
    assert check(507)["agreement_ok"] and failure(check(507)) is None  # 95.3% against 95.9%
    assert not check(477)["agreement_ok"]  # 89.7% against 95.9%
    assert "(more than the 1.7% counting noise apart)" in failure(check(477))


def test_a_mistral3_adapter_exports_and_merges_without_held_out_videos(recipe, tmp_path):
    """Mistral 3 through train and export: the GGUF adapter for its text model (mistral3), merged weights of the
    whole Mistral 3; with no held-out video (eval_share 0) and check false the merge checks itself on the training
    text (it failed asking for export.check: false, which was already set)."""
    from tube2lora_models.base_model import BUILTIN_MISTRAL3

    path = recipe(train={"base_model": BUILTIN_MISTRAL3, "tokenizer": "mistral:v3", "max_steps": 1, "lora_r": 4,
                         "eval_share": 0},
                  export={"merged": True, "check": False})
    publish_generate(path, passages(2, 2))
    assert run_stage(TRAIN, path) == 0
    run = RunDir.for_config(load_config(path))
    assert json.loads((run.stage_dir("train") / "split.json").read_text())["eval"] == []
    assert run_stage(EXPORT, path) == 0
    exported = ExportedAdapter.read(run.stage_dir("export"))
    assert (exported.architecture, exported.check_skipped) == ("mistral3", "export.check is false")
    import gguf

    names = [t.name for t in gguf.GGUFReader(run.root / exported.gguf_path).tensors]
    assert len(names) == 2 * 7 * 2 and all(n.startswith("blk.") for n in names)  # 2 layers x 7 projections x A, B
    merged = run.root / exported.merged_path
    assert json.loads((merged / "config.json").read_text())["architectures"] == ["Mistral3ForConditionalGeneration"]
    log = run.log_file.read_text()
    assert "merged weights (float32, merged on cpu): max |logit difference|" in log
    assert "equivalence check has no text" not in log
    card = (run.root / exported.adapter_path / "README.md").read_text()
    assert "- adapter.gguf was not checked against this PEFT adapter (export.check is false)" in card


def test_peft_scores_a_mistral3_with_and_without_its_adapter(tiny_mistral3, tmp_path):
    """The check's PEFT side loads a Mistral 3 as train does (AutoModelForCausalLM cannot)."""
    from tube2lora_export.token_scores import peft_scores

    adapter = save_lora(tiny_mistral3, tmp_path / "adapter")
    scores = peft_scores(str(tiny_mistral3), adapter, [[1, 5, 9, 200, 31], [1, 7, 8]])
    assert [len(w["nll"]) for w in scores["base"]] == [len(w["top1"]) for w in scores["adapter"]] == [4, 2]
    assert scores["base"][0]["nll"] != scores["adapter"][0]["nll"]  # the adapter moves the model


def test_a_perplexity_ratio_gap_beyond_the_tolerance_fails_the_check():
    """llama.cpp's ratio x0.600 against PEFT's x0.700 (14.3% apart) fails even with top-1 agreement untouched;
    4.3% apart passes."""
    from tube2lora_export.equivalence import compare, failure

    def scored(nll: float) -> list[dict]:
        return [{"nll": [nll] * 100, "top1": list(range(100))}]

    def check(llama_adapter_nll: float) -> dict:
        return compare({"base": scored(1.0), "adapter": scored(llama_adapter_nll)},
                       {"base": scored(1.0), "adapter": scored(1.0 + math.log(0.7))}, 0.05)

    wide = check(1.0 + math.log(0.6))
    assert wide["ratio"] == {"llama_cpp": 0.6, "peft": 0.7} and wide["ratio_gap"] == -0.1429
    assert not wide["ratio_ok"] and wide["agreement_ok"]
    assert failure(wide) == ("llama.cpp with the GGUF adapter changes perplexity by x0.600, PEFT by x0.700: 14.3% "
                             "apart (> export.ppl_ratio_tolerance 5%); the GGUF adapter is not trustworthy, the PEFT "
                             "adapter is kept")
    near = check(1.0 + math.log(0.67))
    assert near["ratio_ok"] and failure(near) is None
