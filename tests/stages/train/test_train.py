"""The train stage on a tiny random MistralForCausalLM with the real Mistral v3 tokenizer (CPU)."""

from __future__ import annotations

import json

import pytest
from harness import publish_records

from tube2lora_models.chat import MistralChatEncoder
from tube2lora_shared.config import load_config
from tube2lora_shared.documents import TrainedAdapter
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import ChatExample, EditExample, Provenance
from tube2lora_shared.rundir import RunDir
from tube2lora_train.audit import mask_audit
from tube2lora_train.cli import SPEC as TRAIN
from tube2lora_train.mixing import mix
from tube2lora_train.split import split_videos

PERSONA = {"role": "system", "content": "You are Toby Fenwick."}


def chats(videos: int = 5, per_video: int = 2) -> list[ChatExample]:
    out = []
    for v in range(videos):
        for c in range(per_video):
            messages = [PERSONA, {"role": "user", "content": f"How do I look after my chain, part {c}?"},
                        {"role": "assistant", "content": "Here's the thing: one drop per roller, then wipe the "
                                                         f"outside. No drama. (video {v})"},
                        {"role": "user", "content": "And the cassette?"},
                        {"role": "assistant", "content": "Brush it, rinse it, dry it. Slow is smooth."}]
            out.append(ChatExample(messages=messages, provenance=Provenance(
                generator="talk_as_creator", generator_version="0.1.0", prompt="p", model="m", video_id=f"vid{v}",
                chunk_index=c, start=0, end=30, source_sha256="0" * 64)))
    return out


def test_mistral_mask_covers_exactly_the_answers():
    encoder = MistralChatEncoder("v3")
    ids, mask = encoder.encode(chats(1, 1)[0].messages)
    trained = encoder.decode([t for t, m in zip(ids, mask) if m])
    assert "one drop per roller" in trained and "Brush it" in trained
    assert "How do I" not in trained and "Toby Fenwick" not in trained and "cassette?" not in trained
    audit = mask_audit([{"input_ids": ids, "assistant_masks": mask}], encoder.decode, encoder.eos_id)
    assert audit["eos_trained"] and audit["assistant_spans"] == 2 and 0 < audit["supervised_share"] < 0.6
    assert "«" in audit["example_trained_between_guillemets"]


def test_editorial_examples_are_mixed_in_by_weight():
    chat = chats(2, 2)
    edits = [EditExample(instruction="Rewrite.", input=f"draft {i}", output=f"final {i}", provenance=chat[0].provenance)
             for i in range(10)]
    assert mix(chat, edits, 0.0, seed=1) == [(c.provenance.video_id, c.messages) for c in chat]
    mixed = mix(chat, edits, 0.5, seed=1)
    assert len(mixed) == 4 + 2 and mixed[4][1][0]["content"].startswith("Rewrite.\n\ndraft ")
    assert mix(chat, edits, 0.5, seed=1) == mixed and mix(chat, edits, 0.5, seed=2) != mixed
    assert len(mix(chat, edits, 100.0, seed=1)) == 4 + 10  # never more than there are


def test_split_is_by_video_and_stable():
    train, evals = split_videos([f"v{i}" for i in range(10)] * 3, 0.2, seed=1)
    assert len(evals) == 2 and not set(train) & set(evals) and len(train) == 8
    assert split_videos([f"v{i}" for i in range(10)], 0.2, seed=1) == (train, evals)
    assert split_videos(["only"], 0.5, seed=1) == (["only"], [])


def test_train_stage_end_to_end(recipe, tiny_mistral):
    path = recipe(train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "max_steps": 4,
                         "per_device_train_batch_size": 2, "logging_steps": 1, "eval_steps": 2, "save_steps": 2,
                         "lora_r": 4, "lora_alpha": 8, "eval_share": 0.2})
    publish_records(path, "generate", "talk_as_creator/dataset_messages.jsonl", chats())
    assert run_stage(TRAIN, path) == 0
    run = RunDir.for_config(load_config(path))
    stage = run.stage_dir("train")
    split = json.loads((stage / "split.json").read_text())
    assert len(split["eval"]) == 1 and split["eval"][0] not in split["train"] and split["eval_examples"] == 2
    audit = json.loads((stage / "mask_audit.json").read_text())
    assert audit["eos_trained"] and audit["supervised_tokens"] > 0
    metrics = json.loads((stage / "training_metrics.json").read_text())
    assert metrics["steps"] == 4 and len(metrics["train_losses"]) == 4 and metrics["eval_loss"] > 0
    assert set(metrics["lora_target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                   "up_proj", "down_proj"}
    adapter = run.artifacts_dir("train") / "adapter"
    assert (adapter / "adapter_model.safetensors").exists() and (adapter / "adapter_config.json").exists()
    assert (adapter / "mistral_instruct_tokenizer_240323.model.v3").exists()
    assert list((run.artifacts_dir("train") / "tensorboard").rglob("events.out.tfevents*"))
    decided = TrainedAdapter.read(stage)  # what evaluate loads, without reading train's section
    assert (decided.base_model, decided.tokenizer, decided.chat_format) == (str(tiny_mistral), "mistral:v3", "mistral")
    assert decided.base_model_location(run.root / "elsewhere") == str(tiny_mistral)  # a local model: as named
    assert run.root / decided.adapter_path == adapter and decided.max_length == metrics["max_length"]
    assert read_manifest(stage).counts["success"] == 5
    assert run_stage(TRAIN, path) == 0  # current: nothing retrained


def test_qlora_on_cpu_is_a_clear_error(recipe, tiny_mistral):
    path = recipe(train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "load_in_4bit": True,
                         "max_steps": 1})
    publish_records(path, "generate", "talk_as_creator/dataset_messages.jsonl", chats(2, 1))
    assert run_stage(TRAIN, path) == 2
    assert "QLoRA needs a CUDA GPU" in RunDir.for_config(load_config(path)).log_file.read_text()


def test_an_interrupted_run_resumes_from_its_last_checkpoint(recipe, tiny_mistral, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    path = recipe(train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "max_steps": 40,
                         "save_steps": 2, "logging_steps": 2, "eval_steps": 20, "lora_r": 4})
    publish_records(path, "generate", "talk_as_creator/dataset_messages.jsonl", chats())
    script = str(Path(sys.executable).parent / "tube2lora-train")
    proc = subprocess.Popen([script, "--config", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    cache = tmp_path / "runs" / ".cache" / "train"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(cache.glob("*/checkpoints/checkpoint-4/trainer_state.json")):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = sorted(int(p.name.split("-")[1]) for p in cache.glob("*/checkpoints/checkpoint-*"))
    assert saved and saved[-1] < 40, "the run finished before it could be interrupted"
    assert run_stage(TRAIN, path) == 0
    metrics = json.loads((RunDir.for_config(load_config(path)).stage_dir("train") / "training_metrics.json").read_text())
    assert metrics["resumed"] is True and metrics["steps"] == 40
    assert len(metrics["train_losses"]) == 20  # the history carries the steps before the interruption too


def test_merge_is_checked_against_base_plus_adapter(recipe, tiny_mistral):
    path = recipe(train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "max_steps": 3,
                         "learning_rate": 0.01, "lora_r": 4, "merge": True, "eval_share": 0})
    publish_records(path, "generate", "talk_as_creator/dataset_messages.jsonl", chats(2, 2))
    assert run_stage(TRAIN, path) == 0
    run = RunDir.for_config(load_config(path))
    check = json.loads((run.stage_dir("train") / "training_metrics.json").read_text())["merge_check"]
    assert check["ok"] and check["max_abs_logit_diff"] <= 1e-3 and check["probes"] == 3
    assert (run.artifacts_dir("train") / "merged" / "model.safetensors").exists()


def test_two_processes_under_torchrun(recipe, tiny_mistral):
    import socket
    import subprocess
    import sys
    from pathlib import Path

    path = recipe(train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "max_steps": 3,
                         "per_device_train_batch_size": 1, "lora_r": 4, "eval_share": 0.2, "eval_steps": 3})
    publish_records(path, "generate", "talk_as_creator/dataset_messages.jsonl", chats())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bin_dir = Path(sys.executable).parent
    result = subprocess.run([str(bin_dir / "torchrun"), "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
                             "--master_port", str(port), str(bin_dir / "tube2lora-train"), "--config", str(path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    run = RunDir.for_config(load_config(path))
    metrics = json.loads((run.stage_dir("train") / "training_metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["steps"] == 3
    assert (run.artifacts_dir("train") / "adapter" / "adapter_model.safetensors").exists()
    assert read_manifest(run.stage_dir("train")) is not None


def test_bad_inputs_are_one_clear_line(recipe, tiny_mistral, tmp_path):
    missing = recipe("missing.yaml", train={"base_model": str(tmp_path / "no-such-model"), "max_steps": 1})
    publish_records(missing, "generate", "talk_as_creator/dataset_messages.jsonl", chats(2, 1))
    assert run_stage(TRAIN, missing) == 2
    assert "no tokenizer could be loaded" in RunDir.for_config(load_config(missing)).log_file.read_text()

    empty = recipe("empty.yaml", train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3"})
    publish_records(empty, "generate", "talk_as_creator/dataset_messages.jsonl", [])
    assert run_stage(TRAIN, empty) == 1
    assert "produced no training examples" in RunDir.for_config(load_config(empty)).log_file.read_text()

    broken = chats(2, 1)
    broken[0] = broken[0].model_copy(update={"messages": [PERSONA, {"role": "user", "content": "Hi?"},
                                                          {"role": "assistant", "content": "Hi."},
                                                          {"role": "user", "content": "And?"}]})  # ends unanswered
    rejected = recipe("rejected.yaml", train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3"})
    publish_records(rejected, "generate", "talk_as_creator/dataset_messages.jsonl", broken)
    assert run_stage(TRAIN, rejected) == 1
    run = RunDir.for_config(load_config(rejected))
    assert "conversation 0 (video vid0) is rejected by the tokenizer's chat format" in run.log_file.read_text()
    assert not run.artifacts_dir("train").exists()  # nothing half-written
