"""llm.budget through a real stage: generate against the loopback fake OpenAI-compatible server stops before the
run directory's LLM spending would pass the budget, keeps what it paid for, and a re-run with a higher budget
(the same run directory: the budget is not part of its identity) pays only for the rest."""

from __future__ import annotations

from pathlib import Path

from harness import REPO, publish_records

from tube2lora_demo.fake_llm import FakeOpenAI
from tube2lora_generate.cli import SPEC as GENERATE
from tube2lora_shared.config import load_config
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import Chunk, Kept, Normalized, Video
from tube2lora_shared.rundir import RunDir

PROMPTS = REPO / "configs" / "prompts"
PRICES = {"prompt_per_million": 100.0, "completion_per_million": 400.0}
TEXT = ("Alright, grease monkeys, Toby here. Today we are talking about the derailleur hanger, the little "
        "bracket that bends when your bike tips over in the garden. Here's the thing, a bent hanger makes "
        "perfect indexing impossible, so before you touch the barrel adjuster, look at it from behind. No drama, "
        "a hanger alignment tool fixes it in five minutes. Slow is smooth, smooth is fast.")


def recipe_for(recipe, server: FakeOpenAI, budget: float | None, directory: Path, videos: int = 4) -> Path:
    directory.mkdir(exist_ok=True)
    llm = {"base_url": server.base_url, "model": "fake-model", "backoff_s": 0.01, "concurrency": 3, "prices": PRICES}
    path = recipe(directory=directory, llm={**llm, **({"budget": budget} if budget else {})},
                  generate={"creator": "Toby Fenwick",
                            "own_words": {"enabled": False},
                            "talk_as_creator": {"prompt_file": str(PROMPTS / "talk_as_creator.yaml")},
                            "editorial_rewrite": {"enabled": True,
                                                  "prompt_file": str(PROMPTS / "editorial_rewrite.yaml")}})
    if read_manifest(RunDir.for_config(load_config(path)).stage_dir("filter")) is None:
        normalized = [Normalized(id=f"v{i}", title=f"Hangers {i}", channel="Fenwick Fixes Bikes", status="success",
                                 text=TEXT, chunks=[Chunk(index=c, start=c * 30.0, end=c * 30.0 + 29, source=TEXT,
                                                          text=TEXT) for c in range(2)]) for i in range(videos)]
        publish_records(path, "download", "videos.jsonl", [Video(id=f"v{i}", url="x", status="success")
                                                           for i in range(videos)])
        publish_records(path, "normalize", "normalized.jsonl", normalized)
        publish_records(path, "filter", "kept.jsonl", [Kept(id=n.id, text=n.text, words=70) for n in normalized])
    return path


def test_a_budget_stops_generate_midway_and_a_higher_one_pays_only_for_the_rest(recipe, tmp_path):
    with FakeOpenAI(latency_s=0.02) as server:
        # what the whole stage costs, measured in a run directory (and cache) of its own
        full = recipe_for(recipe, server, None, tmp_path / "full")
        assert run_stage(GENERATE, full) == 0
        requests, cost = server.total, read_manifest(RunDir.for_config(load_config(full)).stage_dir("generate")
                                                     ).token_usage["cost_usd"]
        assert requests >= 8  # one per generation task (4 videos x 2 chunks)

        server.requests.clear()
        path = recipe_for(recipe, server, cost / 2, tmp_path / "budget")
        run = RunDir.for_config(load_config(path))
        assert run_stage(GENERATE, path) == 1
        asked = server.total
        assert 0 < asked < requests  # stopped midway
        entry = run.read_status()["stages"]["generate"]
        assert entry["last_error"].startswith("llm.budget: the next request could cost up to ")
        assert f"past the budget of {cost / 2:g} USD" in entry["last_error"]
        assert "raise llm.budget and re-run to pay only for the rest" in entry["last_error"]
        assert entry["cost_spent"] <= cost / 2 and read_manifest(run.stage_dir("generate")) is None

        assert run_stage(GENERATE, path) == 1  # the same budget again: what was spent counts, nothing more is paid
        assert server.total == asked

        path = recipe_for(recipe, server, cost * 2, tmp_path / "budget")
        assert RunDir.for_config(load_config(path)).root == run.root  # the same run, resumed
        assert run_stage(GENERATE, path) == 0
        assert server.total == requests  # the rest only: every answer bought before came from the cache
        manifest = read_manifest(run.stage_dir("generate"))
        assert manifest.token_usage["cache_hits"] == asked and manifest.token_usage["requests"] == requests - asked
        assert run.read_status()["stages"]["generate"]["cost_spent"] == \
            entry["cost_spent"] + manifest.token_usage["cost_usd"]


def test_earlier_stages_spending_counts(recipe, tmp_path):
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server, 1.0, tmp_path)
        run = RunDir.for_config(load_config(path))
        run.update_stage("normalize", cost_spent=0.9999)  # what normalize's attempts spent, as lifecycle records it
        assert run_stage(GENERATE, path) == 1 and server.total == 0
        assert "(0.9999 before generate started, 0.0000 by it now)" in run.read_status()["stages"]["generate"][
            "last_error"]
