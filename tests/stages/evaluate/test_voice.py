"""The voice measures of evaluate, on texts small enough to count by hand."""

from __future__ import annotations

import pytest

from tube2lora_evaluate.delta import burrows_delta, top_words
from tube2lora_evaluate.voice import (copied_share, figures, identical, ngram_set, phrase_ratio, repeated_share,
                                      repetition)

GLAD = "I'm glad to hear that."


def test_phrase_ratio_flags_caricature_and_too_little():
    phrases = ["rubber side down"]
    answer = "keep the rubber side down always"  # 1 phrase in 6 words: 16.667 per 100 words
    assert phrase_ratio([answer], 16.667 / 2, phrases) == {"rate": 16.667, "ratio": 2.0, "flag": "ok"}  # 2 is the edge
    assert phrase_ratio([answer], 5.0, phrases)["flag"] == "caricature"  # 3.333x
    assert phrase_ratio([answer, "no phrase in five words"], 50.0, phrases) == {
        "rate": 9.091, "ratio": 0.182, "flag": "too little"}  # 1 in 11 words
    assert phrase_ratio([answer], 0.0, phrases)["ratio"] is None  # the creator never says them: no ratio


def test_copied_share_counts_words_inside_copied_runs():
    training = ngram_set(["The chain is the hardest working part of your bike, no drama."], 8)
    pasted = "Honestly the chain is the hardest working part of your bike"  # 10 of 11 words in copied 8-word runs
    assert copied_share([pasted], training, 8) == round(10 / 11, 4)
    assert copied_share([pasted, "nothing here at all"], training, 8) == round(10 / 15, 4)
    assert copied_share(["the chain is the hardest working part"], training, 8) == 0.0  # 7 words: no 8-word run
    assert copied_share(["bike no drama honestly"], ngram_set(["your bike", "no drama"], 2), 2) == 0.5  # not across texts
    assert copied_share([], training, 8) is None


def test_repetition_finds_the_loop():
    assert repeated_share(f"{GLAD} {GLAD}") == round(2 / 7, 4)  # 10 words, 7 4-grams, 2 seen before
    assert repeated_share("one drop per roller, then wipe the chain") == 0.0
    looped = repetition([f"{GLAD} {GLAD} {GLAD}", "one drop per roller, then wipe the chain"])
    assert looped == {"mean": round((7 / 12) / 2, 4), "looping": 1, "example": '"I\'m glad to hear that." x3'}
    assert repetition(["one drop per roller, then wipe the chain"])["looping"] == 0


def test_identical_answers_are_counted():
    assert identical(["Hello.", "Same", "a"], ["Hello. ", "Other", "a"]) == {"count": 2, "of": 3}


def test_burrows_delta_by_hand():
    # frequencies of a and b: (2/3, 1/3) and (1/3, 2/3): means 0.5, sample standard deviations sqrt(1/18)
    corpus = ["a a b", "a b b"]
    assert top_words(corpus + ["c"], 2) == ["a", "b"]
    deltas = burrows_delta(corpus, "a b", {"x": "a a b", "same": "b a", "empty": ""})
    assert deltas == {"x": round((1 / 6) / (1 / 18) ** 0.5, 4), "same": 0.0, "empty": None}  # 0.7071
    assert burrows_delta(["a a b"], "a b", {"x": "a"}) == {"x": None}  # one document: no spread


def test_figures_put_the_creator_beside_base_and_adapter():
    training = ["Alright grease monkeys, here's the thing: one drop per roller and no drama at all today.",
                "Here's the thing about brakes, grease monkeys: squeeze them gently and no drama at all."]
    real = ["Here's the thing, grease monkeys: wipe the chain after every wet ride, no drama."]
    answers = {"base": [f"{GLAD} {GLAD}"],
               "adapter": ["Here's the thing, grease monkeys: then one drop per roller and no drama at all."]}
    result = figures(real, answers, training, ["here's the thing", "grease monkeys"], copy_ngram=8, delta_words=10)
    assert result["answers"] == 1 and result["identical"] == {"count": 0, "of": 1}
    # the creator: 2 phrases in 14 words (14.286 per 100); the adapter: 2 in 15 (13.333): 0.933x
    assert result["phrases"]["creator_rate"] == 14.286 and result["phrases"]["creator_rate_from"] == "held-out answers"
    assert result["phrases"]["adapter"] == {"rate": 13.333, "ratio": 0.933, "flag": "ok"}
    assert result["phrases"]["base"]["flag"] == "too little"
    # "one drop per roller and no drama at all": 9 of the adapter's 15 words copied from the first training passage
    assert result["copied"] == {"run_words": 8, "creator": 0.0, "base": 0.0, "adapter": 0.6}
    assert result["repetition"]["base"]["looping"] == 1 and result["repetition"]["adapter"]["looping"] == 0
    assert result["delta"]["adapter"] < result["delta"]["base"]


def test_figures_fall_back_to_the_training_rate():
    result = figures(["no phrase here"], {"base": ["grease monkeys"], "adapter": ["x"]},
                     ["grease monkeys, hi", "bye"], ["grease monkeys"])
    assert result["phrases"]["creator_rate_from"] == "training text" and result["phrases"]["creator_rate"] == 25.0
    assert result["phrases"]["base"]["ratio"] == pytest.approx(2.0)


RUSSIAN = ["Привет, друзья. Сегодня мы говорим о цепи, и это важно.", "Цепь надо чистить каждую неделю, без драмы."]


def test_language_bound_measures_are_not_available_outside_english():
    from tube2lora_evaluate.report import render
    from tube2lora_evaluate.style import function_profile, profile

    assert function_profile(RUSSIAN[0], "ru") is None and function_profile(RUSSIAN[0], "en") is not None
    measured = profile(RUSSIAN[1], function_profile(RUSSIAN[0], "ru"), None, "ru")
    assert measured["function_word_js"] is None and measured["signature_phrases_per_100_words"] is None
    assert measured["words"] == 7 and measured["sentence_words"]["mean"] == 7  # Cyrillic words are counted
    result = figures(RUSSIAN[:1], {"base": ["Цепь, цепь, цепь."], "adapter": RUSSIAN[1:]}, RUSSIAN, None, copy_ngram=4)
    assert result["phrases"] is None and result["copied"]["adapter"] == 1.0  # copy measures work in any script
    style = {side: {"function_word_js": None, "mattr": 0.9, "signature_phrases_per_100_words": None,
                    "sentence_words": {"mean": 7.0, "std": 0.0}} for side in ("reference", "base", "adapter")}
    evaluation = {"creator": "Саша", "language": "ru", "base_model": "tiny", "eval_videos": ["v1"],
                  "perplexity": {"transcripts": {"base": 80.0, "adapter": 60.0}}, "voice": result, "style": style,
                  "signature_phrases": [], "samples": []}
    md, page = render(evaluation, {})
    assert ("| signature phrases per 100 words (ratio to the creator's: caricature above 2, too little below 0.5) "
            "| n/a (language ru) | n/a (language ru) | n/a (language ru) |") in md
    assert ("| function-word profile divergence (JS, bits; lower = closer) | n/a (language ru) | n/a (language ru) "
            "| n/a (language ru) |") in md
    assert "Signature phrases mined from the training text: n/a (language ru)." in md
    assert "n/a (language ru)" in page and "Signature-phrase rate" not in page


def test_the_summary_says_signature_phrases_are_not_available_in_russian(recipe):
    from harness import publish_records

    from tube2lora_evaluate.summary import lines
    from tube2lora_shared.config import load_config
    from tube2lora_shared.documents import Evaluation
    from tube2lora_shared.manifest import read_manifest
    from tube2lora_shared.rundir import RunDir

    voice = figures(RUSSIAN[:1], {"base": RUSSIAN[:1], "adapter": RUSSIAN[1:]}, RUSSIAN, None)
    evaluation = Evaluation(creator="Саша", language="ru", base_model="tiny", adapter="a", eval_videos=["v1"],
                            perplexity={"transcripts": {"base": 80.0, "adapter": 60.0}}, voice=voice, style={},
                            signature_phrases=[], samples=[], improved={})
    path = recipe()
    publish_records(path, "evaluate", "placeholder.jsonl", [], files={Evaluation.FILE: evaluation.model_dump_json()})
    run = RunDir.for_config(load_config(path))
    said = lines(run, read_manifest(run.stage_dir("evaluate")))
    assert "voice      signature phrases n/a (language ru); 0 of 1 adapter answers identical to the base's" in said
