import pytest

from tube2lora_generate.config import BriefGates, TalkGates
from tube2lora_generate.gates import copy_share, edit_gate, talk_gate
from tube2lora_generate.parsing import parse_conversation

SOURCE = ("Shift into the smallest cog at the back so the chain sits nice and slack. Grab a rag, wrap it around "
          "the lower run of the chain, and back pedal slowly for ten turns. You will see the grime come off in "
          "long black stripes.")
GOOD = [{"role": "user", "content": "How do I start cleaning my chain?"},
        {"role": "assistant", "content": "Here's the thing: get the chain slack first, then a rag and a few slow "
                                         "turns backwards does most of the work. No drama, slow is smooth."}]


def test_fenced_json_and_role_case_are_tolerated():
    text = 'Sure:\n```json\n{"messages": [{"role": "User", "content": "Hi?"}, {"role": "ASSISTANT", "content": "Hey."}]}\n```'
    assert parse_conversation(text, 1) == [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hey."}]


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
