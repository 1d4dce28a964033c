"""Reading the model's answer (pure): JSON or delimiters, tolerant of fences, strict on commentary."""

from __future__ import annotations

import re

from tube2lora_shared.answers import NoJSONObject, json_object, unfenced
from tube2lora_shared.segmentation import collapse_space

SCHEMA = {"type": "object", "properties": {"text": {"type": "string", "minLength": 1}},
          "required": ["text"], "additionalProperties": False}
OPEN, CLOSE = "<<<CLEAN>>>", "<<<END>>>"
FORMAT_JSON = 'Answer with a JSON object {"text": "<the cleaned transcript>"} and nothing else.'
FORMAT_DELIMITED = f"Answer with the cleaned transcript between a line {OPEN} and a line {CLOSE}, nothing else."

_META = re.compile(
    r"^(sure|certainly|of course|okay|here is|here's|below is|i have|i've|as an ai|note:|the cleaned|"
    r"cleaned transcript|this transcript)\b|\b(the (original|above|following) transcript|i removed|i corrected|"
    r"i have (removed|corrected|cleaned))\b", re.I)


def parse_clean(text: str) -> str:
    """The cleaned text from an answer; ValueError (with what to fix) otherwise."""
    body = unfenced(text)
    if OPEN in body:
        cleaned = body.split(OPEN, 1)[1].split(CLOSE, 1)[0].strip()
    else:
        try:
            value = json_object(body)
        except NoJSONObject:
            raise ValueError("no JSON object and no delimited block in the answer") from None
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            raise ValueError('the JSON object has no string field "text"')
        cleaned = value["text"].strip()
    if not cleaned:
        raise ValueError("the cleaned text is empty")
    first_line = cleaned.splitlines()[0]
    if _META.search(first_line) or _META.search(cleaned.splitlines()[-1]):
        raise ValueError("the answer talks about the transcript instead of being the transcript")
    return collapse_space(cleaned)
