"""Reading a model's JSON answer (pure): tolerant of code fences and stray text around the object.

    value = json_object(text)  # ValueError saying what is wrong, which the LLM client re-asks with

Models wrap JSON in ```json fences, or add a sentence before or after it, even when told not to; the
object itself must still be valid JSON. A stage's own parser checks the object's fields.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json|text)?\s*(.*?)```", re.S)


class NoJSONObject(ValueError):
    """The answer holds no {...} at all (a parser may then try another format, e.g. delimiters)."""


def unfenced(text: str) -> str:
    """The inside of the first code fence, or the whole answer when there is none; stripped."""
    body = text.strip()
    fenced = _FENCE.search(body)
    return fenced.group(1).strip() if fenced else body


def json_object(text: str) -> Any:
    """The JSON value from the first `{` to the last `}` of the (unfenced) answer; raw line breaks and tabs inside
    strings (small models write them) are read as they are."""
    body = unfenced(text)
    start, end = body.find("{"), body.rfind("}")
    if start == -1 or end <= start:
        raise NoJSONObject("no JSON object in the answer")
    try:
        return json.loads(body[start:end + 1], strict=False)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the JSON is invalid ({exc.msg})") from None
