"""Contract tests of own_words (the creator's verbatim passages as answers, the LLM writes the questions)
against the loopback fake OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

from harness import REPO, publish_records

from tube2lora_demo.fake_llm import FakeOpenAI, answer
from tube2lora_generate.cli import SPEC as GENERATE
from tube2lora_shared.config import load_config
from tube2lora_shared.documents import DatasetManifest
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import ChatExample, Chunk, EditExample, Kept, Normalized, Passage, Video
from tube2lora_shared.rundir import RunDir

PROMPTS = REPO / "configs" / "prompts"
SIGN_OFF = "Keep the rubber side down, and I'll see you next ride."  # the boilerplate the filter cut
TALKS = [
    ("Alright, grease monkeys, Toby here. Today we are talking about the derailleur hanger, the little bracket "
     "that bends when your bike tips over in the garden. Here's the thing, a bent hanger makes perfect indexing "
     "impossible, so before you touch the barrel adjuster, look at it from behind. If the jockey wheels are not "
     "straight under the cassette, that is your problem. No drama, a hanger alignment tool fixes it in five "
     "minutes, or a friendly shop will."),
    ("Brakes are the one system on your bike where I will not let you cut corners. Brake pads wear slowly, so "
     "you never notice the day they stop being safe. Most pads have little grooves or a wear line moulded into "
     "them. When the grooves are gone, the pad is gone. For disc brakes, look down into the caliper with a torch, "
     "and if the pad material is thinner than the backing plate, swap them before you grind into the rotor."),
    ("Tyre pressure is the cheapest upgrade you will ever make. Too hard and the bike skips over every ripple "
     "and loses grip in the wet corners. Too soft and you pinch the tube on the first pothole you meet. Get a "
     "floor pump with a gauge, check the pressure every week, and write the number you like on a bit of tape "
     "on the top tube, so you never have to guess again when you are in a hurry."),
]
DEIXIS = ("In this video I show you my new workshop, so smash that like button and subscribe. The link to the "
          "stand is in the description, and the discount code is down below. If you enjoyed this video, hit the "
          "bell icon and subscribe, and leave a comment below. Thanks for watching this video, and check out my "
          "channel for the next episode, because in the next video we build a wheel. Subscribe for more.")
GERMAN = ("Heute sprechen wir über die Kette, den am härtesten arbeitenden Teil deines Fahrrads, den jeder "
          "vergisst. Eine schmutzige Kette sieht nicht nur traurig aus, sie frisst deine Kassette und deine "
          "Kettenblätter, und die kosten richtig Geld. Also reinigen wir sie ordentlich, ganz ohne Drama. "
          "Schalte zuerst auf das kleinste Ritzel hinten, damit die Kette schön locker hängt, und nimm dann "
          "einen Lappen und drehe die Kurbel langsam rückwärts.")


def upstream(path: Path, texts: list[str]) -> None:
    """Each text a kept video; normalize's text and chunks also hold the sign-off, which the filter cut."""
    normalized = []
    for i, text in enumerate(texts):
        spoken = f"{text} {SIGN_OFF}"
        half = len(spoken) // 2
        cut = spoken.rfind(". ", 0, half) + 1
        chunks = [Chunk(index=0, start=0.0, end=30.0, source=spoken[:cut].strip(), text=spoken[:cut].strip()),
                  Chunk(index=1, start=30.0, end=60.0, source=spoken[cut:].strip(), text=spoken[cut:].strip())]
        normalized.append(Normalized(id=f"v{i}", title=f"Episode {i}", channel="Fenwick Fixes Bikes", language="en",
                                     status="success", text=spoken, chunks=chunks))
    publish_records(path, "download", "videos.jsonl", [Video(id=f"v{i}", url="x", status="success")
                                                       for i in range(len(texts))])
    publish_records(path, "normalize", "normalized.jsonl", normalized)
    publish_records(path, "filter", "kept.jsonl", [Kept(id=f"v{i}", text=t, words=len(t.split()), boilerplate_removed=1)
                                                   for i, t in enumerate(texts)])


def recipe_for(recipe, server: FakeOpenAI, texts: list[str] | None = None, own=None, talk=False, **sections):
    path = recipe(llm={"base_url": server.base_url, "model": "fake-model", "backoff_s": 0.01, "max_attempts": 1},
                  generate={"creator": "Toby Fenwick",
                            "own_words": {"prompt_file": str(PROMPTS / "own_words.yaml"),
                                          "curation_prompt_file": str(PROMPTS / "own_words_curation.yaml"),
                                          **(own or {})},
                            "talk_as_creator": {"enabled": talk, "prompt_file": str(PROMPTS / "talk_as_creator.yaml"),
                                                "gates": {"min_source_words": 20}},
                            "editorial_rewrite": {"enabled": talk, "prompt_file": str(PROMPTS / "editorial_rewrite.yaml"),
                                                  "min_source_words": 20}},
                  **sections)
    upstream(path, TALKS if texts is None else texts)
    return path


def stage_dir(path: Path) -> Path:
    return RunDir.for_config(load_config(path)).stage_dir("generate")


def log_of(path: Path) -> str:
    return RunDir.for_config(load_config(path)).log_file.read_text()


def asked_prompts(server: FakeOpenAI) -> str:
    return "\n".join(m.get("content") or "" for body in server.bodies for m in body["messages"])


def test_answers_are_the_creators_kept_words_and_the_cut_sign_off_reaches_no_dataset(recipe):
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server, talk=True)
        assert run_stage(GENERATE, path) == 0
        out = stage_dir(path)
        passages = list(read_jsonl(out / "passages.jsonl", Passage))
        assert [p.id for p in passages] == ["v0:0", "v1:0", "v2:0"] and all(p.language == "en" for p in passages)
        chats = list(read_jsonl(out / "own_words" / "dataset_messages.jsonl", ChatExample))
        assert len(chats) == 3
        persona = ("You are Toby Fenwick. Answer the way Toby Fenwick talks in their videos: their words, their "
                   "phrases, their opinions.")
        for chat, passage, kept in zip(chats, passages, TALKS):
            system, user, assistant = chat.messages
            assert system == {"role": "system", "content": persona}
            assert user["role"] == "user" and user["content"].endswith("?")
            assert assistant == {"role": "assistant", "content": passage.text} and passage.text in kept
            p = chat.provenance
            assert (p.generator, p.prompt, p.chunk_index, p.start, p.end) == ("own_words", "own_words-v4", 0, None, None)
            assert p.source_sha256 == passage.source_sha256 and p.video_id == passage.video_id
        dataset = DatasetManifest.read(out)
        assert dataset.persona == persona and dataset.videos == ["v0", "v1", "v2"]
        assert dataset.generators["own_words"].file == "own_words/dataset_messages.jsonl"
        assert dataset.generators["own_words"].yield_ == 1.0 and dataset.passages.count == 3
        talk = list(read_jsonl(out / "talk_as_creator" / "dataset_messages.jsonl", ChatExample))
        assert talk and all(c.messages[0]["content"] != persona for c in talk)  # model-written data is marked
        # the filter cut the sign-off: no prompt showed it to the model and no dataset holds it
        assert "rubber side down" in SIGN_OFF and "rubber side down" not in asked_prompts(server)
        files = [f for f in out.rglob("*.jsonl")]
        assert len(files) > 6 and not any("rubber side down" in f.read_text() for f in files)
        edits = list(read_jsonl(out / "editorial_rewrite" / "dataset_edits.jsonl", EditExample))
        assert edits and all("rubber" not in e.input for e in edits)
        card = (out / "README.md").read_text()
        assert "| own_words | 3 | 3 | 1.0 |" in card and "Passages (`passages.jsonl`): 3 usable" in card
        assert read_manifest(out).counts["accepted_own_words"] == 3


def test_deixis_and_other_languages_are_dropped_before_any_question(recipe):
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server, texts=[*TALKS[:2], DEIXIS, GERMAN])
        assert run_stage(GENERATE, path) == 0
        out = stage_dir(path)
        assert [p.video_id for p in read_jsonl(out / "passages.jsonl", Passage)] == ["v0", "v1"]
        assert DatasetManifest.read(out).passages.dropped == {"deixis": 1, "wrong_language": 1}
        prompts = asked_prompts(server)
        assert "smash that like button" not in prompts and "Kette" not in prompts
        assert "in English" in prompts  # the question is asked in the passage's language
        counts = read_manifest(out).counts
        assert counts["dropped_passages_deixis"] == 1 and counts["dropped_passages_wrong_language"] == 1


def test_another_allowed_language_is_asked_in_that_language(recipe):
    with FakeOpenAI() as server:
        path = recipe_for(recipe, server, texts=[GERMAN, TALKS[0]], input={"languages": ["de"]})
        assert run_stage(GENERATE, path) == 0
        passages = list(read_jsonl(stage_dir(path) / "passages.jsonl", Passage))
        assert [(p.video_id, p.language) for p in passages] == [("v0", "de")]
        assert "in German" in asked_prompts(server)


def _own_words(question=None, score=None):
    """A responder: the fake's own answers, except the question or the score given."""
    def respond(body):
        prompt = body["messages"][1]["content"]  # the prompt, also when asked again
        if "<answer>" in prompt and score is not None:
            return score if isinstance(score, str) else json.dumps({"score": score})
        if "<passage>" in prompt and question is not None:
            passage = prompt.split("<passage>")[1].split("</passage>")[0].strip()
            return question(passage)
        return answer(body)
    return respond


def test_a_question_that_quotes_its_passage_is_rejected(recipe):
    quoting = _own_words(question=lambda p: json.dumps({"question": "Why do you say " + " ".join(p.split()[4:14]) + "?"}))
    with FakeOpenAI(responder=quoting) as server:
        path = recipe_for(recipe, server)
        assert run_stage(GENERATE, path) == 1  # nothing passed: a failed stage with the histogram
        assert "no example passed the gates out of 3 candidates (own_words: question_quotes_answer=3)" in log_of(path)
        assert server.total == 3 * 3  # asked three times each (question_attempts), and nothing curated
        last = server.bodies[-1]["messages"]
        assert last[-1]["content"].startswith("That question cannot be used: it copies the answer's own sentences.")
        assert [m["role"] for m in last] == ["system", "user", "assistant", "user", "assistant", "user"]
        assert sorted({b["temperature"] for b in server.bodies}) == [0.3, 0.6, 0.9]  # warmer with each attempt
    loose = _own_words(question=lambda p: json.dumps({"question": "Why do you say " + " ".join(p.split()[4:14]) + "?"}))
    with FakeOpenAI(responder=loose) as server:
        path = recipe_for(recipe, server, own={"gates": {"max_copy_share": 1.0}})
        assert run_stage(GENERATE, path) == 0


def test_a_curation_score_below_the_threshold_rejects(recipe):
    with FakeOpenAI(responder=_own_words(score=3)) as server:
        path = recipe_for(recipe, server, talk=True)
        assert run_stage(GENERATE, path) == 0  # the LLM-written data still passes
        out = stage_dir(path)
        decisions = [json.loads(line) for line in (out / "own_words" / "decisions.jsonl").read_text().splitlines()]
        assert [(d["reason"], d["metrics"]["score"]) for d in decisions] == [("low_score", 3)] * 3
        assert DatasetManifest.read(out).generators["own_words"].rejected == {"low_score": 3}
        assert (out / "own_words" / "dataset_messages.jsonl").read_text() == ""
    with FakeOpenAI(responder=_own_words(score=3)) as server:
        path = recipe_for(recipe, server, own={"gates": {"min_score": 3}})
        assert run_stage(GENERATE, path) == 0
        assert DatasetManifest.read(stage_dir(path)).generators["own_words"].accepted == 3


def test_garbage_questions_and_scores_are_rejections_with_reasons(recipe):
    def garbage(body):
        prompt = body["messages"][1]["content"]  # the prompt, also when re-asked
        if "<answer>" in prompt:
            return "a very high score"
        if "derailleur" in prompt:
            return json.dumps({"question": "I like bikes."})
        if "Brakes" in prompt:
            return json.dumps({"query": "What?"})
        return json.dumps({"question": "Why does pressure matter so much?"})

    with FakeOpenAI(responder=garbage) as server:
        path = recipe_for(recipe, server)
        assert run_stage(GENERATE, path) == 1
        # v0: a statement; v1: no question field, re-asked, still none; v2 passes, but its score is garbage twice
        assert ("no example passed the gates out of 3 candidates (own_words: not_a_question=1, own_words: "
                "question_unparsable=1, own_words: score_unparsable=1)") in log_of(path)
        assert server.total == 3 + 2 + 1 + 2  # v0's statement asked for again twice


def test_a_refused_question_is_asked_for_again_with_the_reason(recipe):
    def off_topic_first(body):
        prompt = body["messages"][-1]["content"]
        if prompt.startswith("That question cannot be used"):
            return json.dumps({"question": "How often should I look after my bike?"})
        if "<passage>" in prompt:
            return json.dumps({"question": "What is the answer to this question?"})
        return json.dumps({"score": 5})

    with FakeOpenAI(responder=off_topic_first) as server:
        path = recipe_for(recipe, server, own={"question_attempts": 1})
        assert run_stage(GENERATE, path) == 1 and "own_words: off_topic=3" in log_of(path)
    with FakeOpenAI(responder=off_topic_first) as server:
        path = recipe_for(recipe, server, pipeline={"run_name": "again"})
        assert run_stage(GENERATE, path) == 0
        out = stage_dir(path)
        chats = list(read_jsonl(out / "own_words" / "dataset_messages.jsonl", ChatExample))
        assert [c.messages[1]["content"] for c in chats] == ["How often should I look after my bike?"] * 3
        candidates = [json.loads(line) for line in (out / "own_words" / "candidates.jsonl").read_text().splitlines()]
        assert [c["earlier"] for c in candidates] == [[{"question": "What is the answer to this question?",
                                                        "reason": "off_topic"}]] * 3
        assert read_manifest(out).counts["own_words_questions_asked_again"] == 3
        told = [b["messages"][-1]["content"] for b in server.bodies if len(b["messages"]) == 4]
        assert told == ["That question cannot be used: it does not name anything the passage or its video is about. "
                        "Write a different question that this text answers."] * 3


def test_a_threshold_change_regates_without_requests_and_estimate_asks_nothing(recipe):
    with FakeOpenAI(responder=_own_words(score=4)) as server:
        path = recipe_for(recipe, server)
        assert run_stage(GENERATE, path, estimate=True) == 0 and server.total == 0
        assert run_stage(GENERATE, path) == 0 and server.total == 6  # a question and a score per passage
        stricter = recipe_for(recipe, server, own={"gates": {"min_score": 5}}, pipeline={"run_name": "strict"})
        assert run_stage(GENERATE, stricter) == 1  # every passage scored 4: rejected now, from the cache
        assert server.total == 6 and "own_words: low_score=3" in log_of(stricter)
