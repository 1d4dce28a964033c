"""`tube2lora summary`: each finished stage contributes its own lines; unfinished stages are named."""

from __future__ import annotations

from harness import publish_records

from tube2lora_shared.config import load_config
from tube2lora_shared.documents import DatasetManifest
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import summary_lines


def test_a_half_finished_run_shows_what_each_finished_stage_made(recipe, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    path = recipe()
    datasets = DatasetManifest.model_validate({"creator": "Toby", "generators": {"talk_as_creator": {
        "attempted": 16, "accepted": 10, "file": "talk_as_creator/dataset_messages.jsonl",
        "rejected": {"unparsable": 2, "answer_too_short": 4}}, "own_words": {
        "attempted": 12, "accepted": 9, "yield": 0.75, "file": "own_words/dataset_messages.jsonl",
        "rejected": {"low_score": 3}}}, "passages": {"count": 12, "words": 1000, "dropped": {"deixis": 2}}})
    publish_records(path, "generate", "talk_as_creator/dataset_messages.jsonl", [],
                    files={DatasetManifest.FILE: datasets.model_dump_json(by_alias=True)})
    run = RunDir.for_config(load_config(path))
    lines = summary_lines(run)
    assert lines[0] == f"run {run.id}: runs/{run.id}"  # inside the working directory: relative
    assert lines[1] == "  not finished: train, evaluate, export"
    assert ("  examples   talk_as_creator: 10 of 16 accepted (rejected: answer_too_short 4, unparsable 2) -> "
            f"runs/{run.id}/stages/generate/talk_as_creator/dataset_messages.jsonl") in lines
    assert ("  examples   own_words: 9 of 12 accepted, yield 75% (rejected: low_score 3) -> "
            f"runs/{run.id}/stages/generate/own_words/dataset_messages.jsonl") in lines
    assert f"  passages   12 usable, 1000 words (dropped: deixis 2) -> runs/{run.id}/stages/generate/passages.jsonl" in lines
    # the placeholder upstream stages finished too; the filter's line counts what it kept (nothing here)
    assert "  kept       0 of 0 transcripts after the filter" in lines
