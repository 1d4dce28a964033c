"""The one JSON answer parser every LLM stage uses."""

import pytest

from tube2lora_shared.answers import NoJSONObject, json_object


@pytest.mark.parametrize("text", [
    '{"winner": "A"}',
    '```json\n{"winner": "A"}\n```',
    'Sure! Here it is:\n```\n{"winner": "A"}\n```\nHope that helps.',
    'I think {"winner": "A"} because it sounds like them.',
])
def test_json_answers_models_really_give(text):
    assert json_object(text) == {"winner": "A"}


def test_what_is_wrong_is_said():
    with pytest.raises(NoJSONObject, match="no JSON object in the answer"):
        json_object("A, clearly.")
    with pytest.raises(ValueError, match=r"the JSON is invalid \(Expecting") as invalid:
        json_object('{"winner": A}')
    assert not isinstance(invalid.value, NoJSONObject)  # there is an object: re-ask, don't try delimiters
