"""The train stage on a tiny random MistralForCausalLM with the real Mistral v3 tokenizer (CPU), from a
generate directory built to issue 13's interface (passages, own_words chats, the kept videos)."""

from __future__ import annotations

import json

from generate_dir import PERSONA, chat, passages, publish_generate

from tube2lora_shared.config import load_config
from tube2lora_shared.documents import TrainedAdapter
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_train.cli import SPEC as TRAIN
from tube2lora_train.split import split_videos
from tube2lora_train.summary import lines as summary_lines

TINY = {"tokenizer": "mistral:v3", "lora_r": 4, "lora_alpha": 8, "per_device_train_batch_size": 2}


def tensors(path):
    from safetensors.torch import load_file

    return load_file(str(path / "adapter_model.safetensors"))


def same_tensors(a: dict, b: dict) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_train_stage_contract(recipe, tiny_mistral):
    path = recipe(train={"base_model": str(tiny_mistral), **TINY, "max_steps": 5, "logging_steps": 1,
                         "eval_steps": 2, "eval_share": 0.25})
    texts = passages(4, 3)
    # no own_words chat was accepted for ep03: it is split like any kept video, by its passages
    publish_generate(path, texts, chats=[chat(p, "How do you look after a chain?") for p in texts
                                         if p.video_id != "ep03"])
    assert run_stage(TRAIN, path) == 0
    run = RunDir.for_config(load_config(path))
    stage = run.stage_dir("train")
    split = json.loads((stage / "split.json").read_text())
    assert sorted(split["train"] + split["eval"]) == ["ep00", "ep01", "ep02", "ep03"] and len(split["eval"]) == 1
    held_out = split["eval"][0]
    assert split["eval_rows"]["monologue"] == 3  # the held-out video's passages are always evaluated on
    assert split["eval_rows"].get("own_words", 0) == (0 if held_out == "ep03" else 3)
    assert split["train_rows"]["monologue"] > 0 and split["train_rows"]["own_words"] > 0

    audit = json.loads((stage / "mask_audit.json").read_text())
    own, monologue = audit["sources"]["own_words"], audit["sources"]["monologue"]
    assert own["kind"] == "chat" and 0 < own["supervised_share"] < 1 and own["eos_trained"]
    assert monologue["kind"] == "text" and monologue["supervised_share"] == 1.0 and audit["rule_breaches"] == 0

    metrics = json.loads((stage / "training_metrics.json").read_text())
    mix = metrics["mix"]
    assert abs(mix["own_words"]["share"] - 0.5) < 0.1 and abs(mix["monologue"]["share"] - 0.5) < 0.1
    assert mix["own_words"]["share"] + mix["monologue"]["share"] == 1.0 and mix["talk_as_creator"]["rows"] == 0
    assert mix["own_words"]["rows"] + mix["monologue"]["rows"] == split["train_examples"] == metrics["train_examples"]
    assert metrics["labels_checked"] == ["own_words", "monologue"]
    # evaluated at steps 2 and 4, and at the last one (5) although it is not on eval_steps
    assert metrics["steps"] == 5 and len(metrics["train_losses"]) == 5 and len(metrics["eval_losses"]) == 3
    assert metrics["best_step"] in (2, 4, 5) and metrics["best_eval_loss"] == min(metrics["eval_losses"])
    assert metrics["eval_loss"] == metrics["best_eval_loss"]  # the saved adapter is the best one
    assert set(metrics["lora_target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                   "up_proj", "down_proj"}
    adapter = run.artifacts_dir("train") / "adapter"
    assert (adapter / "adapter_config.json").exists()
    assert (adapter / "mistral_instruct_tokenizer_240323.model.v3").exists()
    assert list((run.artifacts_dir("train") / "tensorboard").rglob("events.out.tfevents*"))
    decided = TrainedAdapter.read(stage)  # what evaluate loads, without reading train's section
    assert (decided.base_model, decided.tokenizer, decided.chat_format) == (str(tiny_mistral), "mistral:v3", "mistral")
    assert decided.base_model_location(run.root / "elsewhere") == str(tiny_mistral)  # a local model: as named
    assert run.root / decided.adapter_path == adapter and decided.max_length == metrics["max_length"]
    assert read_manifest(stage).counts["success"] == 4
    shown = summary_lines(run, read_manifest(stage))
    assert f"best step {metrics['best_step']} of 5" in shown[0]
    assert shown[1].startswith(f"  mix      own_words {mix['own_words']['share']:.0%} ")
    assert run_stage(TRAIN, path) == 0  # current: nothing retrained
    assert metrics["reused"] is False

    # a new run directory with the same train inputs (as after another evaluate setting) takes the finished
    # adapter: no step past max_steps, the same weights, the same metrics
    import shutil

    trained = tensors(adapter)
    shutil.rmtree(stage)
    shutil.rmtree(run.artifacts_dir("train"))
    assert run_stage(TRAIN, path) == 0
    again = json.loads((stage / "training_metrics.json").read_text())
    assert again["reused"] is True and again["steps"] == 5 and again["best_step"] == metrics["best_step"]
    assert same_tensors(tensors(adapter), trained) and (adapter / "mistral_instruct_tokenizer_240323.model.v3").exists()
    assert list((run.artifacts_dir("train") / "tensorboard").rglob("events.out.tfevents*"))
    assert {k: v for k, v in again.items() if k != "reused"} == {k: v for k, v in metrics.items() if k != "reused"}


def test_the_best_checkpoint_ships_and_early_stopping_ends_the_run(recipe, tiny_mistral, tmp_path):
    """The held-out video speaks of something else entirely: as the adapter learns the training videos,
    its eval loss rises after the first evaluation, so step 1 is the best and patience 2 stops at step 3."""
    path = recipe(train={"base_model": str(tiny_mistral), **TINY, "max_steps": 8, "logging_steps": 1,
                         "eval_steps": 1, "eval_share": 0.25, "learning_rate": 0.01, "early_stopping_patience": 2})
    texts = passages(4, 3)
    _, (held_out,) = split_videos(sorted({p.video_id for p in texts}), 0.25, 42)
    other = "Quantum zebras juggle seventeen violet umbrellas beneath Norwegian glaciers."
    publish_generate(path, [p.model_copy(update={"text": other}) if p.video_id == held_out else p for p in texts])
    assert run_stage(TRAIN, path) == 0
    run = RunDir.for_config(load_config(path))
    metrics = json.loads((run.stage_dir("train") / "training_metrics.json").read_text())
    assert metrics["eval_losses"][1] > metrics["eval_losses"][0], metrics["eval_losses"]
    assert metrics["best_step"] == 1 and metrics["stopped_early"] and metrics["steps"] == 3
    assert metrics["eval_loss"] == metrics["best_eval_loss"] == metrics["eval_losses"][0]
    (checkpoints,) = (tmp_path / "runs" / ".cache" / "train").glob("*/checkpoints")
    saved = tensors(run.artifacts_dir("train") / "adapter")
    assert same_tensors(saved, tensors(checkpoints / "checkpoint-1"))
    assert not same_tensors(saved, tensors(checkpoints / "checkpoint-3"))  # not the last one


def test_one_usable_video_fails_at_once_with_the_reason(recipe, tmp_path):
    texts = passages(3, 2)
    path = recipe(train={"base_model": str(tmp_path / "never-loaded"), **TINY})
    # three kept videos, but two of them have no passage and no example
    publish_generate(path, [p for p in texts if p.video_id == "ep01"], kept=["ep00", "ep01", "ep02"])
    assert run_stage(TRAIN, path) == 1
    log = RunDir.for_config(load_config(path)).log_file.read_text()
    assert ("only 1 usable video (ep01): need at least two, one to train on and one to hold out; add videos or "
            "lower filter thresholds") in log
    assert "no tokenizer could be loaded" not in log  # it failed before anything was loaded


def test_a_recipe_with_editorial_weight_names_the_new_key(recipe, capsys):
    path = recipe(train={"base_model": "m", "editorial_weight": 0.5})
    publish_generate(path, passages(2, 1))
    capsys.readouterr()
    assert run_stage(TRAIN, path) == 2
    assert "train: editorial_weight was replaced by train.mix.editorial_rewrite" in capsys.readouterr().err


def test_qlora_on_cpu_is_a_clear_error(recipe, tiny_mistral):
    path = recipe(train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "load_in_4bit": True,
                         "max_steps": 1})
    publish_generate(path, passages(2, 1))
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
                         "save_steps": 2, "logging_steps": 2, "eval_steps": 2, "lora_r": 4,
                         "early_stopping_patience": 0})
    publish_generate(path, passages(5, 2))
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
    publish_generate(path, passages(2, 2))
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
    publish_generate(path, passages(5, 2))
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
    publish_generate(missing, passages(2, 1))
    assert run_stage(TRAIN, missing) == 2
    assert "no tokenizer could be loaded" in RunDir.for_config(load_config(missing)).log_file.read_text()

    empty = recipe("empty.yaml", train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3"})
    publish_generate(empty, [], kept=["ep00", "ep01"])
    assert run_stage(TRAIN, empty) == 1
    assert "no usable video: the generate stage made no passage or example" in \
        RunDir.for_config(load_config(empty)).log_file.read_text()

    texts = passages(2, 1)
    broken = chat(texts[0], "Hi?").model_copy(update={"messages": [
        PERSONA, {"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hi."},
        {"role": "user", "content": "And?"}]})  # ends unanswered
    rejected = recipe("rejected.yaml", train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3"})
    publish_generate(rejected, texts, chats=[broken])
    assert run_stage(TRAIN, rejected) == 1
    run = RunDir.for_config(load_config(rejected))
    assert "own_words conversation 0 (video ep00) is rejected by the tokenizer's chat format" in run.log_file.read_text()
    assert not run.artifacts_dir("train").exists()  # nothing half-written
