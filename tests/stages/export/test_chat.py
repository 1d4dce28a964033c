"""`tube2lora chat` in a pseudo-terminal after a real (tiny) training run and export, through transformers + PEFT (no
GGUF base): the streamed answers are exactly what the adapter and the base model write for the persona and the
question, /base answers the last question with the base, /quit leaves; `--ask-held-out` sets a held-out question's
answers beside the creator's; a run without a finished export is refused in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from stages.export.terminal import Terminal, ask_and_compare
from stages.train.generate_dir import PERSONA, passages, publish_generate

from tube2lora_export.cli import SPEC as EXPORT
from tube2lora_shared.config import load_config
from tube2lora_shared.documents import ExportedAdapter
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.rundir import RunDir
from tube2lora_train.cli import SPEC as TRAIN

TUBE2LORA = str(Path(sys.executable).with_name("tube2lora"))
QUESTION = "How do you look after a chain?"
TOKENS = 12


def strengthen(adapter_dir: Path) -> None:
    """Two training steps barely move a random model; random lora_B (seeded) makes the adapter's answers differ
    from the base's, so a /base that kept the adapter on would be caught."""
    import torch
    from safetensors.torch import load_file, save_file

    path = adapter_dir / "adapter_model.safetensors"
    weights = load_file(path)
    generator = torch.Generator().manual_seed(3)
    for name in weights:
        if "lora_B" in name:
            weights[name] = torch.randn(weights[name].shape, generator=generator) * 2
    save_file(weights, path)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_mistral):
    """A recipe whose run has train and export finished (tiny Mistral, 2 steps), and its exported adapter."""
    import yaml

    directory = tmp_path_factory.mktemp("chat")
    path = directory / "recipe.yaml"
    path.write_text(yaml.safe_dump({
        "paths": {"runs_dir": str(directory / "runs")},
        "train": {"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "max_steps": 2, "lora_r": 4,
                  "lora_alpha": 8, "eval_steps": 1, "logging_steps": 1, "eval_share": 0.25}}, sort_keys=False))
    publish_generate(path, passages())
    assert run_stage(TRAIN, path) == 0 and run_stage(EXPORT, path) == 0
    run = RunDir.for_config(load_config(path))
    document = ExportedAdapter.read(run.stage_dir("export"))
    assert document.base_gguf is None  # so chat answers through transformers + PEFT
    strengthen(run.root / document.adapter_path)
    return path, run, document


def greedy(base_model: str, adapter: Path, messages: list[dict], use_adapter: bool) -> str:
    """What the model writes, computed here without the chat code."""
    from contextlib import nullcontext

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    from tube2lora_models.chat import load_encoder

    encoder = load_encoder("mistral:v3", base_model)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32),
                                      adapter).eval()
    ids = torch.tensor([encoder.prompt(messages)])
    with torch.no_grad(), nullcontext() if use_adapter else model.disable_adapter():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=TOKENS,
                             do_sample=False, repetition_penalty=1.1, eos_token_id=encoder.eos_id,
                             pad_token_id=encoder.eos_id)
    new = [i for i in out[0, ids.shape[1]:].tolist() if i != encoder.eos_id]
    return encoder.decode(new).strip()


def test_a_scripted_session_in_a_terminal(exported):
    path, run, document = exported
    adapter = run.root / document.adapter_path
    asked = [PERSONA, {"role": "user", "content": QUESTION}]
    want_adapter = greedy(document.base_model_location, adapter, asked, True)
    want_base = greedy(document.base_model_location, adapter, asked, False)
    assert want_adapter and want_base and want_adapter != want_base

    terminal = Terminal([TUBE2LORA, "chat", "--config", str(path), "--temperature", "0", "--max-tokens", str(TOKENS)])
    header = terminal.expect("you> ")
    assert f"transformers + PEFT: {document.base_model_location} + adapter" in header
    assert f"persona: {PERSONA['content']}" in header and "/base" in header and "/quit" in header
    terminal.send("/base")
    assert "no question yet" in terminal.expect("you> ")
    ask_and_compare(terminal, QUESTION, document.name, want_adapter, want_base)


def test_ask_held_out_sets_the_answers_beside_the_creators(exported):
    path, run, document = exported
    done = subprocess.run([TUBE2LORA, "chat", "--config", str(path), "--ask-held-out", "--temperature", "0",
                           "--max-tokens", str(TOKENS)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    held_out = [p for p in passages() if p.video_id in set(_split_eval(run))][0]  # own_words: one chat per passage
    question = f"How do you look after a chain, part {held_out.index}?"
    asked = [PERSONA, {"role": "user", "content": question}]
    adapter = run.root / document.adapter_path
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"held-out question (from \"{held_out.video_id}\", a video the adapter never trained")
    assert lines[1] == f"  {question}"
    assert lines[2] == f"  {document.name}> {greedy(document.base_model_location, adapter, asked, True)}"
    assert lines[3] == f"  base model> {greedy(document.base_model_location, adapter, asked, False)}"
    assert lines[4] == f"  the creator, really> {held_out.text}"


def _split_eval(run: RunDir) -> list[str]:
    from tube2lora_shared.documents import Split

    return Split.read(run.stage_dir("train")).eval


def test_without_a_finished_export_it_says_what_to_run(recipe):
    path = recipe(train={"base_model": "builtin:tiny-random-mistral"})
    done = subprocess.run([TUBE2LORA, "chat", "--config", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    run = RunDir.for_config(load_config(path))
    assert done.stderr == (f"error: run {run.id} has no finished train stage to talk to; run `make export "
                           f"CONFIG={path}` first\n")
    assert done.stdout == ""


def test_asking_for_llama_cpp_without_a_gguf_base_is_a_usage_error(exported):
    path, _, _ = exported
    done = subprocess.run([TUBE2LORA, "chat", "--config", str(path), "--backend", "llama.cpp"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: --backend llama.cpp needs a GGUF of the base model")
    assert len(done.stderr.splitlines()) == 1
