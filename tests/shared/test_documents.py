"""The documents stages hand each other: each owns its file name, round-trips, and a missing or broken
file is one clear sentence naming it."""

from __future__ import annotations

import json

import pytest

from tube2lora_shared.documents import DatasetManifest, Split, TrainedAdapter
from tube2lora_shared.errors import StageError


def test_a_document_round_trips_under_its_own_file_name(tmp_path):
    split = Split(train=["a", "b"], eval=["c"], train_examples=4, eval_examples=2)
    assert split.write(tmp_path) == tmp_path / "split.json"
    assert json.loads((tmp_path / "split.json").read_text())["eval"] == ["c"]
    assert Split.read(tmp_path) == split


def test_missing_and_broken_documents_name_the_file(tmp_path):
    assert Split.find(tmp_path) is None
    with pytest.raises(StageError, match=r"split.json is missing; re-run the .* stage with --force"):
        Split.read(tmp_path)
    (tmp_path / "split.json").write_text('{"train": []}')
    with pytest.raises(StageError, match=r"split.json is not a valid Split") as raised:
        Split.read(tmp_path)
    assert "\n" not in str(raised.value)


def test_generate_manifest_reads_as_generate_writes_it(tmp_path):
    (tmp_path / "dataset_manifest.json").write_text(json.dumps({
        "creator": "Toby", "model": "m", "generators": {"talk_as_creator": {
            "attempted": 17, "accepted": 10, "yield": 0.5882, "tokens_cl100k": 900,
            "file": "talk_as_creator/dataset_messages.jsonl", "rejected": {"too_short": 2}}},
        "parameters": {}, "videos": ["v1"], "exports": ["sharegpt"]}))
    manifest = DatasetManifest.read(tmp_path)
    assert manifest.generators["talk_as_creator"].yield_ == 0.5882
    assert manifest.generators["talk_as_creator"].rejected == {"too_short": 2}
    manifest.write(tmp_path)
    assert json.loads((tmp_path / "dataset_manifest.json").read_text())["generators"]["talk_as_creator"]["yield"] == 0.5882


def test_a_cached_base_model_is_found_under_this_machines_cache(tmp_path):
    trained = TrainedAdapter(base_model="builtin:tiny-random-mistral", base_model_path="models/tiny-random-mistral-v1",
                             base_model_cached=True, tokenizer="mistral:v3", chat_format="mistral",
                             adapter_path="artifacts/train/adapter", tensorboard_path="artifacts/train/tensorboard",
                             max_length=128, lora_target_modules=["q_proj"])
    assert trained.base_model_location(tmp_path / "cache") == str(tmp_path / "cache" / "models" / "tiny-random-mistral-v1")
