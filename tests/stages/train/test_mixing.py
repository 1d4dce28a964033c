"""The pure parts of the train stage's data: the token-share mix, the usable videos, the split, the config."""

from __future__ import annotations

from collections import Counter

import pytest

from tube2lora_shared.config import validate_section
from tube2lora_shared.errors import StageError, UsageError
from tube2lora_train.config import TrainConfig
from tube2lora_train.mixing import eval_rows, mix, usable_videos
from tube2lora_train.split import split_videos

WEIGHTS = {"own_words": 1.0, "talk_as_creator": 0.0, "editorial_rewrite": 0.0, "monologue": 1.0}


def rows(source: str, count: int, supervised: int, prompt: int = 0, video: str = "v0") -> list[dict]:
    return [{"source": source, "video": video, "n": n, "input_ids": list(range(prompt + supervised)),
             "assistant_masks": [0] * prompt + [1] * supervised} for n in range(count)]


def test_the_scarcest_source_is_used_whole_and_the_others_subsampled_to_its_share():
    data = rows("own_words", 10, 20, prompt=15) + rows("monologue", 4, 30)  # 200 and 120 supervised tokens
    chosen, report, warnings = mix(data, WEIGHTS, seed=1)
    assert warnings == []
    assert report["monologue"]["rows"] == 4 and report["monologue"]["supervised_tokens"] == 120  # all of it
    assert report["own_words"]["rows"] == 6 and report["own_words"]["supervised_tokens"] == 120  # 120 of 200
    assert report["own_words"]["share"] == report["monologue"]["share"] == 0.5
    assert report["own_words"]["tokens"] == 6 * 35 and report["own_words"]["available_rows"] == 10
    assert len(chosen) == 10 and not any(r["source"] == "talk_as_creator" for r in chosen)
    again, _, _ = mix(data, WEIGHTS, seed=1)
    other, _, _ = mix(data, WEIGHTS, seed=2)
    picked = [r["n"] for r in chosen if r["source"] == "own_words"]
    assert picked == [r["n"] for r in again if r["source"] == "own_words"]  # seeded
    assert picked != [r["n"] for r in other if r["source"] == "own_words"]


def test_uneven_weights_are_met_by_whole_rows_without_repetition():
    data = rows("own_words", 10, 20) + rows("monologue", 4, 30)
    _, report, _ = mix(data, {**WEIGHTS, "own_words": 3.0}, seed=1)
    # own_words (200 tokens) is the scarce one at 3/4: total 266.7, monologue's target 66.7 -> two rows of 30
    assert (report["own_words"]["rows"], report["monologue"]["rows"]) == (10, 2)
    assert report["own_words"]["target_share"] == 0.75 and report["own_words"]["share"] == round(200 / 260, 4)


def test_a_scarce_source_is_repeated_up_to_its_share_and_nothing_plentiful_is_cut():
    data = rows("own_words", 4, 25, prompt=15) + rows("monologue", 10, 25)  # 100 and 250 supervised tokens
    chosen, report, _ = mix(data, WEIGHTS, seed=1, max_repeats=3)
    assert report["monologue"]["rows"] == report["monologue"]["unique_rows"] == 10  # all of it, once
    own = report["own_words"]
    assert (own["rows"], own["unique_rows"], own["supervised_tokens"]) == (10, 4, 250)  # 2 whole copies + 2 rows
    assert own["share"] == report["monologue"]["share"] == 0.5
    times = Counter(r["n"] for r in chosen if r["source"] == "own_words")
    assert sorted(times) == [0, 1, 2, 3] and sorted(times.values()) == [2, 2, 3, 3]  # whole copies, then a part
    assert mix(data, WEIGHTS, seed=1, max_repeats=3)[0] == chosen  # seeded


def test_max_repeats_caps_the_repetition_and_then_the_plentiful_source_is_cut():
    data = rows("own_words", 2, 25) + rows("monologue", 20, 25)  # 50 and 500 supervised tokens
    _, report, _ = mix(data, WEIGHTS, seed=1, max_repeats=2)
    assert (report["own_words"]["rows"], report["own_words"]["unique_rows"]) == (4, 2)  # twice over, no more
    assert report["monologue"]["rows"] == report["monologue"]["unique_rows"] == 4  # cut to the same 100 tokens
    _, once, _ = mix(data, WEIGHTS, seed=1, max_repeats=1)  # nothing repeated: the scarcest sets the total
    assert (once["own_words"]["rows"], once["monologue"]["rows"]) == (2, 2)


def test_a_weighted_source_without_data_warns_and_the_rest_renormalise():
    data = rows("own_words", 3, 10) + rows("talk_as_creator", 5, 10)
    chosen, report, warnings = mix(data, {**WEIGHTS, "editorial_rewrite": 2.0}, seed=1)
    assert len(warnings) == 2 and warnings[0].startswith("train.mix.editorial_rewrite is 2 but there is no "
                                                         "editorial_rewrite data")
    assert "train.mix.monologue is 1" in warnings[1]
    assert report["own_words"]["target_share"] == 1.0 and report["own_words"]["share"] == 1.0
    assert report["talk_as_creator"]["rows"] == 0 and len(chosen) == 3  # weight 0: left out


def test_nothing_to_train_on_is_a_clear_error():
    with pytest.raises(StageError, match=r"nothing to train on: train.mix weights own_words, monologue and the "
                                         r"generate stage made none of them"):
        mix(rows("talk_as_creator", 3, 10), WEIGHTS, seed=1)


def test_eval_rows_always_hold_the_passages_and_the_weighted_chats():
    data = rows("monologue", 2, 5) + rows("own_words", 2, 5) + rows("talk_as_creator", 2, 5)
    kept = eval_rows(data, {**WEIGHTS, "monologue": 0.0})
    assert sorted({r["source"] for r in kept}) == ["monologue", "own_words"]


def test_usable_videos_are_the_kept_ones_with_text():
    data = rows("monologue", 1, 5, video="ep01") + rows("own_words", 1, 5, video="ep00")
    assert usable_videos(["ep00", "ep01", "ep02"], data) == (["ep00", "ep01"], ["ep02"])
    assert usable_videos([], data) == (["ep00", "ep01"], [])  # an older generate stage lists none


def test_split_is_by_video_stable_and_refuses_a_single_video():
    train, evals = split_videos([f"v{i}" for i in range(10)] * 3, 0.2, seed=1)
    assert len(evals) == 2 and not set(train) & set(evals) and len(train) == 8
    assert split_videos([f"v{i}" for i in range(10)], 0.2, seed=1) == (train, evals)
    assert split_videos(["a", "b"], 0.9, seed=1)[0]  # always one to train on
    with pytest.raises(StageError) as raised:
        split_videos(["ep01"], 0.2, seed=1)
    assert str(raised.value) == ("only 1 usable video (ep01): need at least two, one to train on and one to hold "
                                 "out; add videos or lower filter thresholds")
    assert split_videos(["ep01"], 0.0, seed=1) == (["ep01"], [])  # no held-out set asked for
    with pytest.raises(StageError, match="no usable video"):
        split_videos([], 0.2, seed=1)


def test_config_names_the_replaced_and_the_misaligned_keys():
    with pytest.raises(UsageError, match=r"^train: editorial_weight was replaced by train.mix.editorial_rewrite"):
        validate_section("train", {"base_model": "m", "editorial_weight": 0.5}, TrainConfig)
    with pytest.raises(UsageError, match=r"^train.save_steps: must be a multiple of train.eval_steps \(4\)"):
        validate_section("train", {"base_model": "m", "eval_steps": 4, "save_steps": 6}, TrainConfig)
    default = validate_section("train", {"base_model": "m"}, TrainConfig)
    assert default.mix.model_dump() == {"own_words": 1.0, "talk_as_creator": 0.0, "editorial_rewrite": 0.0,
                                         "monologue": 1.0} and default.early_stopping_patience == 3
    # a recipe's mix names what it wants: the sources it leaves out weigh 0, not their defaults
    cfg = validate_section("train", {"base_model": "m", "mix": {"talk_as_creator": 0.5}}, TrainConfig)
    assert cfg.mix.model_dump() == {"own_words": 0.0, "talk_as_creator": 0.5, "editorial_rewrite": 0.0,
                                    "monologue": 0.0}


def test_optimizers_are_transformers_names_and_the_cuda_ones_need_cuda(tmp_path):
    from tube2lora_train.trainer import build

    rows = {"train": [], "eval": []}
    for optim, message in [("adamw_8bit_typo", "is not a transformers optimizer"),
                           ("paged_adamw_8bit", "paged_adamw_8bit keeps its state through bitsandbytes on a CUDA GPU")]:
        cfg = validate_section("train", {"base_model": "m", "optim": optim}, TrainConfig)
        with pytest.raises(UsageError, match=f"^train.optim: .*{message}"):
            build(cfg, str(tmp_path / "never-loaded"), None, rows, 64, tmp_path)  # refused before any model load
    cfg = validate_section("train", {"base_model": "m"}, TrainConfig)
    assert (cfg.optim, cfg.lr_scheduler_type, cfg.warmup_ratio, cfg.weight_decay, cfg.packing) == \
        ("adamw_torch", "cosine", 0.03, 0.0, True)
