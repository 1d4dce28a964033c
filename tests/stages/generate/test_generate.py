"""Contract tests: the generate stage against the loopback fake OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

from harness import REPO, publish_records

from tube2lora_demo.fake_llm import FakeOpenAI
from tube2lora_generate.cli import SPEC as GENERATE
from tube2lora_shared.config import load_config
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import ChatExample, Chunk, EditExample, Kept, Normalized, Video
from tube2lora_shared.rundir import RunDir

PROMPTS = REPO / "configs" / "prompts"
TEXT = ("Alright, grease monkeys, Toby here. Today we are talking about the derailleur hanger, the little "
        "bracket that bends when your bike tips over in the garden. Here's the thing, a bent hanger makes "
        "perfect indexing impossible, so before you touch the barrel adjuster, look at it from behind. If "
        "the jockey wheels are not straight under the cassette, that is your problem. No drama, a hanger "
        "alignment tool fixes it in five minutes, or a friendly shop will. Slow is smooth, smooth is fast.")


def upstream(path: Path, videos: int = 3) -> None:
    normalized = [Normalized(id=f"v{i}", title=f"Hangers part {i}", channel="Fenwick Fixes Bikes", status="success",
                             text=TEXT, chunks=[Chunk(index=c, start=c * 30.0, end=c * 30.0 + 29, source=TEXT, text=TEXT)
                                                for c in range(2)]) for i in range(videos)]
    publish_records(path, "download", "videos.jsonl",
                    [Video(id=f"v{i}", url="x", status="success", upload_date="2026-05-0%d" % (i + 1))
                     for i in range(videos)])
    publish_records(path, "normalize", "normalized.jsonl", normalized)
    publish_records(path, "filter", "kept.jsonl", [Kept(id=n.id, text=n.text, words=90) for n in normalized])


def recipe_for(recipe, server: FakeOpenAI, talk=None, edit=None, name="recipe.yaml", own=None):
    """The LLM-written generators on (own_words off unless `own` says otherwise: its own tests are in
    test_own_words.py)."""
    path = recipe(name, llm={"base_url": server.base_url, "model": "fake-model", "backoff_s": 0.01},
                  generate={"creator": "Toby Fenwick",
                            "own_words": {"enabled": False, "prompt_file": str(PROMPTS / "own_words.yaml"),
                                          "curation_prompt_file": str(PROMPTS / "own_words_curation.yaml"),
                                          **(own or {})},
                            "talk_as_creator": {"enabled": True, "prompt_file": str(PROMPTS / "talk_as_creator.yaml"),
                                                **(talk or {})},
                            "editorial_rewrite": {"enabled": True, "prompt_file": str(PROMPTS / "editorial_rewrite.yaml"),
                                                  **(edit or {})}})
    upstream(path)
    return path


def stage_dir(path: Path) -> Path:
    return RunDir.for_config(load_config(path)).stage_dir("generate")


def test_datasets_with_provenance_exports_and_card(recipe):
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server, talk={"turn_pairs": 2, "clarify_share": 0.5})
        assert run_stage(GENERATE, path) == 0
        out = stage_dir(path)
        chats = list(read_jsonl(out / "talk_as_creator" / "dataset_messages.jsonl", ChatExample))
        edits = list(read_jsonl(out / "editorial_rewrite" / "dataset_edits.jsonl", EditExample))
        assert len(chats) == 6 and server.total == 12  # 6 chunks x (1 chat + 1 edit)
        chat = chats[0]
        assert chat.messages[0] == {"role": "system", "content": "You are Toby Fenwick, paraphrased by a writer model. "
                                    "Answer the way Toby Fenwick talks in their videos: their words, their phrases, "
                                    "their opinions."}  # model-written data is marked apart from the own words
        assert [m["role"] for m in chat.messages[1:]] == ["user", "assistant"] * 2
        p = chat.provenance
        assert (p.generator, p.prompt, p.model, p.video_id, p.video_title) == (
            "talk_as_creator", "talk_as_creator-v2", "fake-model", "v0", "Hangers part 0")
        assert p.chunk_index == 0 and (p.start, p.end) == (0.0, 29.0) and len(p.source_sha256) == 64
        assert {e.provenance.brief for e in edits} <= {"cleanup_filler", "tighten_60_percent",
                                                       "expand_with_examples", "convert_to_script"}
        briefs_asked = [json.loads(line)["brief"] for line in (out / "editorial_rewrite" / "candidates.jsonl").read_text().splitlines()]
        assert len(set(briefs_asked)) == 4  # briefs rotate across chunks
        asked_back = [c for c in chats if "?" in c.messages[2]["content"]]
        clarify = [json.loads(line) for line in (out / "talk_as_creator" / "candidates.jsonl").read_text().splitlines()]
        assert 0 < sum(c["clarify"] for c in clarify) < 6 and len(asked_back) >= sum(c["clarify"] for c in clarify)
        assert (out / "talk_as_creator" / "by_video" / "v1.jsonl").exists()
        sharegpt = json.loads((out / "talk_as_creator" / "export_sharegpt.jsonl").read_text().splitlines()[0])
        assert [t["from"] for t in sharegpt["conversations"]] == ["system", "human", "gpt", "human", "gpt"]
        alpaca = json.loads((out / "editorial_rewrite" / "export_alpaca.jsonl").read_text().splitlines()[0])
        assert set(alpaca) == {"instruction", "input", "output"}
        card = (out / "README.md").read_text()
        assert "2026-05-01" in card and "| talk_as_creator | 6 | 6 |" in card and "Rights" in card
        dataset = json.loads((out / "dataset_manifest.json").read_text())
        assert dataset["generators"]["talk_as_creator"]["accepted"] == 6
        assert read_manifest(out).counts["accepted_talk_as_creator"] == 6


def test_a_threshold_change_regates_without_requests(recipe):
    with FakeOpenAI() as server:
        first = recipe_for(recipe, server)
        assert run_stage(GENERATE, first) == 0
        asked = server.total
        stricter = recipe_for(recipe, server, talk={"gates": {"min_answer_words": 200}}, name="stricter.yaml")
        assert run_stage(GENERATE, stricter) == 0  # every chat rejected now; the edits still pass
        assert server.total == asked  # zero requests: the stored answers were re-gated
        decisions = (stage_dir(stricter) / "talk_as_creator" / "decisions.jsonl").read_text()
        assert '"reason": "answer_too_short"' in decisions


def test_copying_and_missing_questions_are_rejected(recipe):
    def paste(body):
        source = body["messages"][-1]["content"].split("<text>")[1].split("</text>")[0].strip()
        return json.dumps({"messages": [{"role": "user", "content": "Tell me about hangers?"},
                                        {"role": "assistant", "content": source}]})

    with FakeOpenAI(responder=paste) as server:
        path = recipe_for(recipe, server, talk={"turn_pairs": 1}, edit={"enabled": False})
        assert run_stage(GENERATE, path) == 1  # nothing passed: a failed stage, not an empty file
        log = RunDir.for_config(load_config(path)).log_file.read_text()
        assert "no example passed the gates out of 6 candidates (talk_as_creator: copied_source=6)" in log
        assert not (stage_dir(path) / "talk_as_creator" / "dataset_messages.jsonl").exists()


def test_clarifying_question_required_when_asked_for(recipe):
    def never_asks(body):
        return json.dumps({"messages": [{"role": "user", "content": "How do hangers bend?"},
                                        {"role": "assistant", "content": "Mine bent when the bike fell over "
                                         "in the garden, so now I always check it before anything else, no drama."}]})

    with FakeOpenAI(responder=never_asks) as server:
        path = recipe_for(recipe, server, talk={"turn_pairs": 1, "clarify_share": 0.5}, edit={"enabled": False})
        assert run_stage(GENERATE, path) == 0
        decisions = [json.loads(line) for line in
                     (stage_dir(path) / "talk_as_creator" / "decisions.jsonl").read_text().splitlines()]
        reasons = {d["reason"] for d in decisions}
        assert reasons == {None, "missing_clarifying_question"}


def test_garbage_answers_fail_the_stage_clearly(recipe):
    with FakeOpenAI(responder=lambda body: "I am a teapot") as server:
        path = recipe_for(recipe, server)
        assert run_stage(GENERATE, path) == 1
        assert "unparsable" in RunDir.for_config(load_config(path)).log_file.read_text()
        assert server.total == 24  # every candidate asked, and re-asked once


def test_unknown_placeholder_is_a_config_error_before_any_call(recipe, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsystem: You are {persona}.\nuser: '{text}'\n")
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server, talk={"prompt_file": str(bad)}, edit={"enabled": False})
        assert run_stage(GENERATE, path) == 2 and server.total == 0


def test_estimate_spends_nothing(recipe):
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server)
        assert run_stage(GENERATE, path, estimate=True) == 0
        assert server.total == 0 and read_manifest(stage_dir(path)) is None
