"""A channel that grows, through generate: after a new upload every stage runs again but pays only for the new
episode (LLM answers of the others come from the cache); with the same listing nothing is published or asked.

Slow tier: the sample channel is transcribed once (whisper tiny.en on CPU, minutes)."""

from __future__ import annotations

import pytest
import yaml
from harness import REPO, SampleChannelServer

from tube2lora_demo.fake_llm import FakeOpenAI
from tube2lora_shared.config import load_config
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.pipeline import spec_of, stage_names
from tube2lora_shared.rundir import RunDir

from test_sample_job import absolute_files, needed_by

pytestmark = pytest.mark.slow
CHAIN = [stage for stage in stage_names() if stage in needed_by("generate")]


def test_a_new_upload_costs_only_its_own_llm_calls(tmp_path):
    recipe = yaml.safe_load((REPO / "configs" / "sample.yaml").read_text())
    absolute_files(recipe, REPO / "configs")
    with SampleChannelServer() as channel, FakeOpenAI() as llm:
        channel.hidden.add("ep08-winter-storage")
        recipe["input"]["urls"] = [f"{channel.base_url}/feed.xml"]
        recipe["llm"]["base_url"] = llm.base_url
        recipe["paths"] = {"runs_dir": str(tmp_path / "runs")}
        recipe["download"]["relist_after_hours"] = 0
        path = tmp_path / "sample.yaml"
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        run = RunDir.for_config(load_config(path))

        def chain() -> dict[str, int]:
            asked = {}
            for stage in CHAIN:
                before = llm.total
                assert run_stage(spec_of(stage), path) == 0
                asked[stage] = llm.total - before
            return asked

        first = chain()
        assert first["normalize"] > 0 and first["generate"] > 0
        channel.hidden.clear()
        second = chain()
        counts = read_manifest(run.stage_dir("transcribe")).counts
        assert (counts["cached"], counts["success"]) == (7, 1)
        for stage in ("normalize", "generate"):
            usage = read_manifest(run.stage_dir(stage)).token_usage
            assert usage["requests"] == second[stage] and usage["cache_hits"] == first[stage]  # the 7 old ones
            assert 0 < second[stage] < first[stage] / 3  # one episode of eight
        manifests = {s: (run.stage_dir(s) / "manifest.json").read_bytes() for s in CHAIN}
        assert sum(chain().values()) == 0  # the same listing: nothing asked...
        assert {s: (run.stage_dir(s) / "manifest.json").read_bytes() for s in CHAIN} == manifests  # ...or published
