"""`tube2lora estimate` before anything ran: the loopback sample channel listed for real (yt-dlp), every LLM stage
forecast with its own prompts, the table, JSON, currency and assumptions; estimate mode's counting; the per-stage
`--estimate` line's currency; the default recipe pays for no dataset train leaves out (issue 16)."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest
from click.testing import CliRunner
from harness import REPO

from tube2lora_demo.fake_llm import FakeOpenAI
from tube2lora_generate.config import GenerateConfig
from tube2lora_generate.consumers import unused
from tube2lora_shared.cache import Cache
from tube2lora_shared.cli import main
from tube2lora_shared.config import LLMConfig, Prices, load_config
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.llm import LLMClient, Question, prompt_tokens
from tube2lora_shared.pipeline import StageSpec, spec_of, stages

PROMPTS = REPO / "configs" / "prompts"
PRICES = {"prompt_per_million": 2.0, "completion_per_million": 6.0, "currency": "EUR"}


def sections(channel, runs, **changes):
    found = {
        "paths": {"runs_dir": str(runs)},
        "input": {"urls": [f"{channel.base_url}/feed.xml"]},
        "download": {"media": "audio"},
        "llm": {"base_url": "http://127.0.0.1:9/v1", "model": "m", "prices": PRICES},
        "normalize": {"prompt_file": str(PROMPTS / "normalize.yaml"), "target_chars": 600, "max_chars": 900,
                      "overlap_chars": 200},
        "generate": {"creator": "Toby", "own_words": {"prompt_file": str(PROMPTS / "own_words.yaml"),
                                                      "curation_prompt_file": str(PROMPTS / "own_words_curation.yaml")}},
        "train": {"base_model": "builtin:tiny-random-mistral"},
        "evaluate": {"judge": True, "judge_samples": 3},
    }
    for key, value in changes.items():
        found[key] = {**found.get(key, {}), **value}
    return found


def estimate(recipe, *args, **sections_):
    result = CliRunner().invoke(main, ["estimate", "--config", str(recipe(**sections_)), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_estimate_before_download_forecasts_every_llm_stage_with_cost(channel, recipe, tmp_path):
    found = json.loads(estimate(recipe, "--json", **sections(channel, tmp_path / "runs")))
    rows = {row["stage"]: row for row in found["stages"]}
    assert list(rows) == [name for name, spec in stages().items() if spec.llm]  # in pipeline order
    assert all(row["basis"] == "forecast" for row in rows.values())
    assert rows["normalize"]["requests"] >= 9  # 9 videos of about 70 s, 600-character chunks: 2-3 each
    assert rows["generate"]["requests"] > rows["normalize"]["requests"]  # a question and a score per passage
    assert rows["evaluate"]["requests"] == 12  # the judge: 3 samples, adapter and base, both orders
    for row in rows.values():
        assert row["cost"] == pytest.approx((row["prompt_tokens"] * 2 + row["completion_tokens"] * 6) / 1e6)
    total = found["total"]
    assert total["requests"] == sum(row["requests"] for row in rows.values())
    assert total["cost"] == pytest.approx(sum(row["cost"] for row in rows.values()))
    assert found["currency"] == "EUR" and total["cached"] == 0
    said = " ".join(found["assumptions"])
    assert "9 video(s) of 10 listed" in said  # the short is skipped, as download would
    assert "2.5 words a second" in said and "the filter keeps every video whole" in said
    assert not (tmp_path / "runs").exists()  # nothing was created, asked or paid


def test_the_table_the_pace_of_speech_and_an_unused_dataset(channel, recipe, tmp_path):
    config = sections(channel, tmp_path / "runs", generate={"editorial_rewrite": {
        "enabled": True, "prompt_file": str(PROMPTS / "editorial_rewrite.yaml")}})
    table = estimate(recipe, **config)
    assert "LLM estimate for run" in table and "total" in table and " EUR" in table
    row = next(line for line in table.splitlines() if "normalize" in line)
    assert "forecast" in row
    assert "generate.editorial_rewrite.enabled is true but train.mix.editorial_rewrite is 0" in table
    assert "assumptions: download: 9 video(s)" in table

    slow = json.loads(estimate(recipe, "--json", **config))
    fast = json.loads(estimate(recipe, "--json", "--words-per-second", "5", **config))
    tokens = {name: {row["stage"]: row["prompt_tokens"] for row in found["stages"]}
              for name, found in (("slow", slow), ("fast", fast))}
    assert 1.7 < tokens["fast"]["normalize"] / tokens["slow"]["normalize"] < 2.3  # twice the words

    config["train"]["mix"] = {"own_words": 1, "editorial_rewrite": 1}
    assert "editorial_rewrite is 0" not in estimate(recipe, **config)


def test_default_recipe_pays_for_no_dataset_that_training_leaves_out():
    default = load_config(REPO / "configs" / "default.yaml")
    assert unused(default, default.section("generate", GenerateConfig)) == []
    sample = load_config(REPO / "configs" / "sample.yaml")  # turns every generator on, to exercise them
    assert [w.split(" is true")[0] for w in unused(sample, sample.section("generate", GenerateConfig))] == \
        ["generate.editorial_rewrite.enabled"]


def test_estimate_mode_counts_misses_by_expected_length_and_hits_as_free(tmp_path):
    usage = Counter()
    messages = [{"role": "system", "content": "s" * 400}, {"role": "user", "content": "u" * 800}]
    with FakeOpenAI() as server:
        config = LLMConfig(base_url=server.base_url, model="m")
        cache = Cache(tmp_path / "cache")
        real = LLMClient(config, None, cache, logging.getLogger("t"), Counter())
        real.ask_all([Question(messages, str)], "paid")  # now in the cache
        counted = LLMClient(config, None, cache, logging.getLogger("t"), usage, estimate=True)
        other = [{"role": "user", "content": "another prompt"}]
        answers = counted.ask_all([Question(messages, str), Question(other, str, expect_tokens=30),
                                   Question(other, str, max_tokens=10, expect_tokens=30)], "estimate")
        assert server.total == 1
    assert answers[0].cached and answers[0].value and answers[1].value is None
    assert usage["cache_hits"] == 1 and usage["estimated_requests"] == 2
    assert usage["estimated_prompt_tokens"] == 2 * prompt_tokens(other) == 2 * (14 // 4 + 8)
    assert usage["estimated_completion_tokens"] == 30 + 10  # expected, capped by max_tokens


def test_a_stage_estimate_line_shows_the_currency(recipe, capfd):
    def run(ctx):
        ctx.llm().ask_all([Question([{"role": "user", "content": "x" * 4000}], str, expect_tokens=500)], "q")

    spec = StageSpec(name="download", package="tube2lora-shared", section=spec_of("download").section, run=run)
    path = recipe(llm={"base_url": "http://127.0.0.1:9/v1", "model": "m", "prices": PRICES})
    assert run_stage(spec, path, estimate=True) == 0
    cost = Prices(**PRICES).cost(1000 + 8, 500)
    assert f"about 1008 prompt and 500 completion tokens, about {cost:.4f} EUR" in capfd.readouterr().err


def test_sources_that_cannot_be_listed_count_as_max_videos_or_fail(channel, recipe, tmp_path):
    config = sections(channel, tmp_path / "runs", input={"urls": ["http://127.0.0.1:9/feed.xml"]},
                      download={"retries": 0, "max_videos": 3})
    found = json.loads(estimate(recipe, "--json", **config))
    assert "download.max_videos (3) videos of 600 s assumed" in " ".join(found["assumptions"])
    assert found["stages"][0]["requests"] > 0
    del config["download"]["max_videos"]
    failed = CliRunner().invoke(main, ["estimate", "--config", str(recipe(**config))])
    assert failed.exit_code == 1 and "could not list the sources in input" in failed.output
