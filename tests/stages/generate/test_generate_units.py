from dataclasses import replace

import pytest

from tube2lora_generate.config import BriefGates, TalkGates
from tube2lora_generate.gates import copy_share, edit_gate, talk_gate
from tube2lora_generate.parsing import parse_conversation, parse_question

SOURCE = ("Shift into the smallest cog at the back so the chain sits nice and slack. Grab a rag, wrap it around "
          "the lower run of the chain, and back pedal slowly for ten turns. You will see the grime come off in "
          "long black stripes.")
GOOD = [{"role": "user", "content": "How do I start cleaning my chain?"},
        {"role": "assistant", "content": "Here's the thing: get the chain slack first, then a rag and a few slow "
                                         "turns backwards does most of the work. No drama, slow is smooth."}]


def test_fenced_json_and_role_case_are_tolerated():
    text = 'Sure:\n```json\n{"messages": [{"role": "User", "content": "Hi?"}, {"role": "ASSISTANT", "content": "Hey."}]}\n```'
    assert parse_conversation(text, 1) == [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hey."}]


def test_line_breaks_in_japanese_answers_and_questions_add_no_space():
    text = ('{"messages": [{"role": "user", "content": "ホイールの\\n外し方は？"}, '
            '{"role": "assistant", "content": "まず、\\nレバーを開けます。"}]}')
    assert [m["content"] for m in parse_conversation(text, 1)] == ["ホイールの外し方は？", "まず、レバーを開けます。"]
    assert parse_question('{"question": "ブレーキの\\n調整は\\nどうしますか？"}') == "ブレーキの調整はどうしますか？"
    assert parse_question('{"question": "How do I\\nadjust the brake?"}') == "How do I adjust the brake?"


@pytest.mark.parametrize("messages, problem", [
    ([{"role": "user", "content": "a"}], "expected 2 messages"),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "message 2 must be from the assistant"),
    ([{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}], "message 1 must be from the user"),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "  "}], "message 2 is empty"),
])
def test_wrong_shapes_are_rejected_with_the_reason(messages, problem):
    import json

    with pytest.raises(ValueError, match=problem):
        parse_conversation(json.dumps({"messages": messages}), 1)


def test_copy_share_fires_on_pasted_passages_whatever_the_lengths():
    pasted = "Well, " + SOURCE.split(". ")[1] + "."
    assert copy_share(pasted, SOURCE * 20, 8) > 0.8  # a long source does not dilute it
    assert copy_share(GOOD[1]["content"], SOURCE, 8) == 0


def test_talk_gates():
    gates = TalkGates(min_answer_words=5)
    assert talk_gate(GOOD, SOURCE, clarify=False, g=gates)[0] is None
    pasted = [GOOD[0], {"role": "assistant", "content": SOURCE}]
    assert talk_gate(pasted, SOURCE, clarify=False, g=gates)[0] == "copied_source"
    assert talk_gate(GOOD, SOURCE, clarify=True, g=gates)[0] == "missing_clarifying_question"
    asking = [GOOD[0], {"role": "assistant", "content": "Road or mountain bike? " + GOOD[1]["content"]}]
    assert talk_gate(asking, SOURCE, clarify=True, g=gates)[0] is None
    question = "How often should I clean and lube my chain if I ride in the rain?"
    echo = [{"role": "user", "content": question}, {"role": "assistant", "content": question.replace("I ", "you ")}]
    reason, metrics = talk_gate(echo, SOURCE, clarify=False, g=gates)
    assert reason == "echoed_question" and metrics["echo_similarity"] > 0.8
    assert talk_gate(echo, SOURCE, clarify=False, g=TalkGates(min_answer_words=5, max_echo_similarity=1.0))[0] is None


def test_tighten_that_doubles_is_rejected():
    reason, metrics = edit_gate("tighten_60_percent", SOURCE, SOURCE + " " + SOURCE,
                                BriefGates(min_ratio=0.45, max_ratio=0.75))
    assert reason == "too_long_for_brief" and metrics["length_ratio"] == 2.0
    short = " ".join(SOURCE.split()[:25])
    assert edit_gate("tighten_60_percent", SOURCE, short, BriefGates(min_ratio=0.45, max_ratio=0.75))[0] is None


def test_expand_caps_invented_names():
    output = SOURCE + " Ask Gerald at Halfords, or Marta from Shimano, or Pedro at Decathlon, like Jonas did."
    reason, metrics = edit_gate("expand_with_examples", SOURCE, output, BriefGates(max_new_entities=3))
    assert reason == "invented_entities" and {"Gerald", "Marta"} <= set(metrics["new_entities"])


def test_delimited_answers_when_no_schema_is_enforced():
    from tube2lora_generate.parsing import parse_edit

    text = "Here you go.\nUSER: How tight?\n**Assistant:** Snug, then a quarter turn.\nUser: And then?\nCREATOR: Ride."
    assert [t["role"] for t in parse_conversation(text, 2)] == ["user", "assistant", "user", "assistant"]
    assert parse_conversation(text, 2)[1]["content"] == "Snug, then a quarter turn."
    assert parse_edit("<<<OUTPUT>>>\nTighter text.\n<<<END>>>") == "Tighter text."


def planned(**generate):
    from tube2lora_generate.config import GenerateConfig
    from tube2lora_generate.tasks import plan
    from tube2lora_shared.records import Chunk, Normalized

    cfg = GenerateConfig(**{"own_words": {"enabled": False}, "talk_as_creator": {"enabled": True, "prompt_file": "t.yaml"},
                            "editorial_rewrite": {"enabled": True, "prompt_file": "e.yaml"}, **generate})
    long, short = " ".join(SOURCE.split() * 3), "Too short to ask about."
    videos = {f"v{i}": Normalized(id=f"v{i}", status="success", channel="Fenwick Fixes Bikes", chunks=[
        Chunk(index=c, start=0, end=1, source=text.upper(), text=text) for c, text in enumerate((long, short, long))])
        for i in range(2)}
    return cfg, videos, plan(cfg, ["v0", "v1"], videos, {vid: n.chunks for vid, n in videos.items()})


def test_task_planning_skips_short_chunks_and_rotates_briefs():
    cfg, _, tasks = planned()
    assert [t.id for t in tasks[:4]] == ["talk_as_creator:v0:0", "editorial_rewrite:v0:0:cleanup_filler",
                                         "talk_as_creator:v0:2", "editorial_rewrite:v0:2:expand_with_examples"]
    assert len(tasks) == 8 and not any(t.chunk.index == 1 for t in tasks)  # the short chunk asks nothing
    assert all(t.source == t.chunk.text for t in tasks)  # edits start from the normalized text by default
    _, _, raw = planned(editorial_rewrite={"enabled": True, "prompt_file": "e.yaml", "input": "raw"},
                        talk_as_creator={"enabled": False})
    assert {t.generator for t in raw} == {"editorial_rewrite"} and all(t.source == t.chunk.source for t in raw)


def test_gating_turns_answers_into_examples_rejections_and_retries():
    from tube2lora_generate.decisions import decide
    from tube2lora_shared.llm import Answer, LLMError
    from tube2lora_shared.prompts import PromptTemplate

    cfg, videos, tasks = planned(talk_as_creator={"enabled": True, "prompt_file": "t.yaml",
                                                  "gates": {"min_answer_words": 5}},
                                 editorial_rewrite={"enabled": False})
    templates = {"talk_as_creator": PromptTemplate(name="talk-v1", system="s", user="u")}
    pasted = [GOOD[0], {"role": "assistant", "content": tasks[1].source}]
    answers = [Answer(GOOD, "...", cached=False), Answer(pasted, "...", cached=True),
               LLMError("connection", "refused"), LLMError("unparsable", "twice")]
    found = decide(tasks, answers, cfg, "Toby", templates, "m")
    assert found.accepted == 1
    assert found.examples["talk_as_creator"][0].messages[0]["content"].startswith("You are Toby, paraphrased by")
    assert found.counts == {"accepted_talk_as_creator": 1, "rejected_talk_as_creator_copied_source": 1,
                            "rejected_talk_as_creator_connection": 1, "rejected_talk_as_creator_unparsable": 1}
    assert found.retry_videos == {"v1"}  # only the transient error is asked again
    assert [d["accepted"] for d in found.decisions] == [True, False, False, False]
    assert found.candidates[2]["error"] == "refused" and found.candidates[1]["cached"] is True


def test_the_question_follows_the_endpoint_and_the_task():
    from pathlib import Path

    from tube2lora_generate.prompting import load_templates, question

    prompts = Path(__file__).resolve().parents[3] / "configs" / "prompts"
    cfg, _, tasks = planned(talk_as_creator={"enabled": True, "prompt_file": str(prompts / "talk_as_creator.yaml"),
                                             "turn_pairs": 1},
                            editorial_rewrite={"enabled": True, "prompt_file": str(prompts / "editorial_rewrite.yaml")})
    templates = load_templates(cfg)
    talk = question(tasks[0], templates["talk_as_creator"], "Toby", cfg, "json_schema")
    assert talk.messages[-1]["content"].endswith("Answer with the JSON object only.")
    assert talk.schema["properties"]["messages"]["minItems"] == 2 and talk.temperature == 0.7
    assert talk.parse("USER: Hi?\nASSISTANT: Hey.") == [{"role": "user", "content": "Hi?"},
                                                        {"role": "assistant", "content": "Hey."}]
    asking = question(replace(tasks[0], clarify=True), templates["talk_as_creator"], "Toby", cfg, "json_schema")
    assert "Toby asks the viewer one short clarifying question" in asking.messages[-1]["content"]
    edit = question(tasks[1], templates["editorial_rewrite"], "Toby", cfg, "none")
    assert edit.messages[-1]["content"].endswith("between a line <<<OUTPUT>>> and a line <<<END>>>, and nothing else.")
    assert edit.max_tokens == len(tasks[1].source) // 2 + 300 and edit.parse("<<<OUTPUT>>>\nx\n<<<END>>>") == "x"


def test_chats_and_edits_in_another_language_than_their_source_are_rejected_first():
    from tube2lora_generate.gates import edit_failures, talk_failures

    russian = ("Сначала переключитесь на самую маленькую звезду сзади, чтобы цепь висела свободно. Возьмите тряпку, "
               "оберните её вокруг нижней ветви цепи и медленно крутите педали назад.")
    failed, metrics = talk_failures(GOOD, russian, clarify=True, g=TalkGates(min_answer_words=5), language="ru")
    assert failed == ["wrong_language", "missing_clarifying_question"] and metrics["wrong_language"] == "en"
    assert talk_gate(GOOD, SOURCE, clarify=False, g=TalkGates(min_answer_words=5), language="en")[0] is None
    assert edit_failures("cleanup_filler", russian, SOURCE, BriefGates(), "ru")[0][0] == "wrong_language"
    assert edit_failures("cleanup_filler", russian, russian, BriefGates(), "ru")[0] == []
