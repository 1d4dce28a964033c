"""filter: gates, MinHash LSH near-duplicates, boilerplate with a sign-off kept at a rate."""

from __future__ import annotations

import random

from harness import publish_records

from tube2lora_analyze.signature import minhash
from tube2lora_filter import boilerplate
from tube2lora_filter.cli import SPEC as FILTER
from tube2lora_filter.config import FilterConfig
from tube2lora_filter.dedup import clusters
from tube2lora_filter.gates import failed_gate, failed_gates
from tube2lora_shared.config import load_config
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.records import Boilerplate, Dropped, DuplicateCluster, Kept, Normalized, Profile
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import summary_lines

GOOD = dict(transcript_language="en", language="en", language_probability=0.99, words=400, tokens_target=520,
            quality=0.9, mean_avg_logprob=-0.3, words_per_minute=150, normalize_similarity=0.9,
            normalize_words_ratio=0.95)


def test_gates_name_the_failure_that_explains_the_others():
    cfg = FilterConfig()
    assert failed_gate(Profile(id="a", **GOOD), cfg, ["en"]) is None
    assert failed_gate(Profile(id="a", **{**GOOD, "language": "es"}), cfg, ["en"])[0] == "language"
    # an English-only whisper on Spanish speech: confident-looking English, text language id says "en"
    fooled = Profile(id="a", **{**GOOD, "mean_avg_logprob": -1.07, "words_per_minute": 22})
    reason, detail = failed_gate(fooled, cfg, ["en"])
    assert reason == "low_confidence" and "-1.07 < -0.8" in detail
    assert failed_gate(Profile(id="a", **{**GOOD, "words": 80}), cfg, ["en"])[0] == "too_short"
    assert failed_gate(Profile(id="a", **{**GOOD, "normalize_words_ratio": 1.8}), cfg, ["en"])[0] == "normalize_drift"
    off = FilterConfig(min_mean_logprob=None, min_words_per_minute=None)
    assert failed_gate(fooled, off, ["en"]) is None
    # short and in another language: the language is the reason, and both failures are listed
    spanish = Profile(id="a", **{**GOOD, "language": "es", "words": 24, "tokens_target": 40})
    assert [r for r, _ in failed_gates(spanish, cfg, ["en"])] == ["language", "too_short", "too_short"]


def test_the_language_gate_matches_one_language_under_its_codes():
    cfg = FilterConfig()
    for transcript, identified, allowlist in (("jw", "jv", ["jw"]), ("no", "nn", ["nb"]), ("nn", "no", ["no"]),
                                              ("iw", "he", ["he"]), ("yue", "yue", ["yue"]), ("ar", "arz", ["ar"])):
        profile = Profile(id="a", **{**GOOD, "transcript_language": transcript, "language": identified})
        assert failed_gate(profile, cfg, allowlist) is None, (transcript, identified, allowlist)
    german = Profile(id="a", **{**GOOD, "transcript_language": "no", "language": "de"})
    assert failed_gate(german, cfg, ["nb"]) == ("language", "identified language 'de' is not in input.languages ['nb']")
    # Yiddish: py3langid does not know it (calls it Hebrew or German, unsure or not), so only whisper's code counts
    yiddish = Profile(id="a", **{**GOOD, "transcript_language": "yi", "language": "he", "language_probability": 0.3})
    assert failed_gate(yiddish, cfg, ["yi"]) is None
    assert failed_gate(yiddish.model_copy(update={"transcript_language": "en"}), cfg, ["yi"])[0] == "language"


# A Spanish video through the English-only tiny.en (measured): whisper reports "en", the text is 24
# confident-looking English words in 68 s, text language id agrees it is English; whisper's own confidence is low.
SPANISH_THROUGH_TINY_EN = dict(transcript_language="en", language="en", language_probability=0.93, words=24,
                               tokens_target=31, quality=0.35, mean_avg_logprob=-1.07, words_per_minute=21.2,
                               normalize_similarity=0.95, normalize_words_ratio=1.0, duration=68.0, source="whisper")


def test_a_spanish_video_heard_by_an_english_only_model_is_dropped_for_confidence_with_every_failure_shown(
        recipe, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    rng = random.Random(3)
    vocabulary = [f"word{i}" for i in range(4000)]
    bodies = {"good": text(rng, vocabulary), "spanish": "So the the one thing I was at the time of the day is."}
    profiles = [Profile(id="good", **GOOD, minhash=minhash(bodies["good"], 5, 128)),
                Profile(id="spanish", **SPANISH_THROUGH_TINY_EN, minhash=minhash(bodies["spanish"], 5, 128))]
    path = recipe(input={"languages": ["en"]})
    publish_records(path, "normalize", "normalized.jsonl",
                    [Normalized(id=vid, status="success", text=t) for vid, t in bodies.items()])
    publish_records(path, "analyze", "profiles.jsonl", profiles)
    assert run_stage(FILTER, path) == 0
    run = RunDir.for_config(load_config(path))
    [dropped] = read_jsonl(run.stage_dir("filter") / "dropped.jsonl", Dropped)
    assert (dropped.id, dropped.reason) == ("spanish", "low_confidence")
    assert dropped.reasons == ["low_confidence", "too_short", "low_quality"]
    assert "mean whisper avg_logprob -1.07 < -0.8" in dropped.detail and "words 24 < 150" in dropped.detail
    assert ("  kept       1 of 2 transcripts after the filter (dropped: low_confidence 1; gates failed: "
            "low_confidence 1, low_quality 1, too_short 1)") in summary_lines(run)


def text(rng, vocabulary, n=300):
    return " ".join(rng.choice(vocabulary) for _ in range(n)) + "."


def test_near_duplicates_cluster_without_all_pairs():
    rng = random.Random(5)
    vocabulary = [f"w{i}" for i in range(3000)]
    docs = {f"d{i}": text(rng, vocabulary) for i in range(50)}
    words = docs["d7"].split()
    docs["d7copy"] = " ".join(words[:280] + ["changed"] * 20)  # a re-upload with a new ending
    groups = clusters({k: minhash(v, 5, 128) for k, v in docs.items()}, threshold=0.7)
    assert [sorted(g) for g in groups] == [["d7", "d7copy"]]


def test_boilerplate_is_cut_but_the_sign_off_survives_at_its_rate():
    rng = random.Random(2)
    vocabulary = [f"w{i}" for i in range(2000)]
    sign_off = "Keep the rubber side down, and I'll see you next ride."
    texts = {f"v{i}": f"{text(rng, vocabulary, 30)} No drama. {sign_off}" for i in range(20)}
    cleaned, cut, found = boilerplate.remove(texts, min_videos=3, min_share=0.3, min_words=4, keep_rate=0.25)
    [recurring] = found  # "No drama." is too short to be boilerplate
    assert recurring.sentence == sign_off and len(recurring.videos) == 20
    assert 1 <= len(recurring.kept_in) <= 10 and len(recurring.kept_in) + len(recurring.removed_from) == 20
    assert all((sign_off in cleaned[v]) == (v in recurring.kept_in) for v in texts)
    assert all("No drama." in c for c in cleaned.values()) and sum(cut.values()) == len(recurring.removed_from)


def test_filter_contract_reports_every_drop(recipe):
    rng = random.Random(9)
    vocabulary = [f"word{i}" for i in range(4000)]
    bodies = {f"v{i}": text(rng, vocabulary) for i in range(6)}
    bodies["v5"] = bodies["v4"][:-60] + " and a slightly different ending."
    profiles = [Profile(id=vid, **{**GOOD, "quality": 0.9 - int(vid[1]) * 0.01}, minhash=minhash(t, 5, 128))
                for vid, t in bodies.items()]
    profiles[0] = profiles[0].model_copy(update={"language": "de"})
    profiles[1] = profiles[1].model_copy(update={"mean_avg_logprob": -1.1})
    path = recipe(input={"languages": ["en"]})
    publish_records(path, "normalize", "normalized.jsonl",
                    [Normalized(id=vid, status="success", text=t) for vid, t in bodies.items()])
    publish_records(path, "analyze", "profiles.jsonl", profiles)
    assert run_stage(FILTER, path) == 0
    stage = RunDir.for_config(load_config(path)).stage_dir("filter")
    kept = {k.id for k in read_jsonl(stage / "kept.jsonl", Kept)}
    dropped = {d.id: d for d in read_jsonl(stage / "dropped.jsonl", Dropped)}
    [cluster] = list(read_jsonl(stage / "duplicates.jsonl", DuplicateCluster))
    assert kept == {"v2", "v3", "v4"}
    assert dropped["v0"].reason == "language" and "'de'" in dropped["v0"].detail
    assert dropped["v1"].reason == "low_confidence"
    assert dropped["v5"].reason == "near_duplicate" and cluster.representative == "v4"
    assert cluster.members[0].id == "v5" and cluster.members[0].similarity > 0.7
    assert list(read_jsonl(stage / "boilerplate.jsonl", Boilerplate)) == []


def test_disabled_keeps_everything(recipe):
    path = recipe(filter={"enabled": False})
    publish_records(path, "normalize", "normalized.jsonl", [Normalized(id="a", status="success", text="Hi there.")])
    publish_records(path, "analyze", "profiles.jsonl", [Profile(id="a", words=2)])
    assert run_stage(FILTER, path) == 0
    stage = RunDir.for_config(load_config(path)).stage_dir("filter")
    assert [k.text for k in read_jsonl(stage / "kept.jsonl", Kept)] == ["Hi there."]
