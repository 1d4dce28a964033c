"""Reading generator answers (pure): tolerant of fences, role case and stray text; strict on shape."""

from __future__ import annotations

import re

from tube2lora_shared.answers import NoJSONObject, json_object, unfenced
from tube2lora_shared.segmentation import collapse_space

CONVERSATION_SCHEMA_NAME, EDIT_SCHEMA_NAME = "conversation", "edit"
QUESTION_SCHEMA_NAME, SCORE_SCHEMA_NAME = "viewer_question", "curation_score"


QUESTION_MAX_CHARS = 400


def conversation_schema(turn_pairs: int, answer_words: int) -> dict:
    """Roles fixed per position and a length cap per turn (answers: 12 characters per asked-for word,
    about twice the usual length): small models then keep to the shape."""
    caps = {"user": QUESTION_MAX_CHARS, "assistant": max(200, 12 * answer_words)}
    items = [{"type": "object", "properties": {"role": {"const": role},
                                               "content": {"type": "string", "maxLength": caps[role]}},
              "required": ["role", "content"], "additionalProperties": False}
             for _ in range(turn_pairs) for role in ("user", "assistant")]
    return {"type": "object", "properties": {"messages": {"type": "array", "prefixItems": items,
                                                          "minItems": 2 * turn_pairs, "maxItems": 2 * turn_pairs}},
            "required": ["messages"], "additionalProperties": False}


EDIT_SCHEMA = {"type": "object", "properties": {"output": {"type": "string", "minLength": 1}},
               "required": ["output"], "additionalProperties": False}


_ROLE_LINE = re.compile(r"^\s*\**(user|viewer|human|assistant|creator|gpt)\**\s*:\s*\**\s*", re.I | re.M)


def _role_lines(text: str) -> list[dict[str, str]]:
    """The delimiter form: turns as lines starting with `USER:` / `ASSISTANT:` (or viewer / creator)."""
    marks = list(_ROLE_LINE.finditer(text))
    if not marks:
        raise ValueError("no JSON object and no USER:/ASSISTANT: lines in the answer")
    return [{"role": m.group(1), "content": text[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(text)]}
            for i, m in enumerate(marks)]


def parse_conversation(text: str, turn_pairs: int) -> list[dict[str, str]]:
    """[{role, content}...] with exactly turn_pairs user/assistant pairs, user first, nothing empty."""
    try:
        data = json_object(text)
    except ValueError:
        data = {"messages": _role_lines(text)}
    messages = data.get("messages") if isinstance(data, dict) else data
    if not isinstance(messages, list):
        raise ValueError('expected {"messages": [...]}')
    turns = []
    for m in messages:
        if not isinstance(m, dict):
            raise ValueError("each message must be an object with role and content")
        role = str(m.get("role", "")).strip().lower()
        role = {"viewer": "user", "human": "user", "creator": "assistant", "gpt": "assistant"}.get(role, role)
        content = collapse_space(str(m.get("content", "")))
        if role == "system":
            continue
        turns.append({"role": role, "content": content})
    if len(turns) != 2 * turn_pairs:
        raise ValueError(f"expected {2 * turn_pairs} messages ({turn_pairs} user/assistant pairs), got {len(turns)}")
    for i, turn in enumerate(turns):
        expected = "user" if i % 2 == 0 else "assistant"
        if turn["role"] != expected:
            raise ValueError(f"message {i + 1} must be from the {expected}, not {turn['role'] or 'nobody'}")
        if not turn["content"]:
            raise ValueError(f"message {i + 1} is empty")
    return turns


def parse_edit(text: str) -> str:
    if "<<<OUTPUT>>>" in text:
        return parse_delimited_edit(text)
    data = json_object(text)
    output = data.get("output") if isinstance(data, dict) else None
    if not isinstance(output, str) or not output.strip():
        raise ValueError('expected {"output": "<the rewritten text>"}')
    return output.strip()


def parse_delimited_edit(text: str) -> str:
    inner = text.split("<<<OUTPUT>>>", 1)[1].split("<<<END>>>", 1)[0].strip()
    if not inner:
        raise ValueError("the text between <<<OUTPUT>>> and <<<END>>> is empty")
    return inner


# A viewer's question: the length cap keeps a small model from running on (SmolLM2 needs it, see field notes).
QUESTION_SCHEMA = {"type": "object", "properties": {"question": {"type": "string", "minLength": 1,
                                                                 "maxLength": QUESTION_MAX_CHARS}},
                   "required": ["question"], "additionalProperties": False}
SCORE_SCHEMA = {"type": "object", "properties": {"score": {"type": "integer", "enum": [1, 2, 3, 4, 5]}},
                "required": ["score"], "additionalProperties": False}


def parse_question(text: str) -> str:
    """{"question": "..."}, or (an answer without JSON) the first non-empty line, unquoted; up to its last question
    mark."""
    try:
        data = json_object(text)
    except NoJSONObject:
        line = next((ln.strip() for ln in unfenced(text).splitlines() if ln.strip()), "")
        question = re.sub(r"^(question|viewer|q)\s*:\s*", "", line, flags=re.I).strip().strip('"')
    else:
        question = data.get("question") if isinstance(data, dict) else None
        if not isinstance(question, str):
            raise ValueError('expected {"question": "<the viewer\'s question>"}')
    question = collapse_space(question)
    if not question:
        raise ValueError("the question is empty")
    return _without_tail(question)


_LAST_QUESTION_MARK = re.compile(r"^(.*[?？؟])")


def _without_tail(question: str) -> str:
    """The question up to its last question mark: small models go on after it ("How do I fix a brake pad? (In the
    video) You just need to..."), and what follows is talk about the question, not part of it."""
    found = _LAST_QUESTION_MARK.match(question)
    return found.group(1) if found else question


def parse_score(text: str) -> int:
    """{"score": 1-5}, or (an answer without JSON) a lone digit from 1 to 5."""
    try:
        data = json_object(text)
    except NoJSONObject:
        found = re.fullmatch(r"\D*?([1-5])(?:\s*/\s*5)?\D*", unfenced(text))
        if not found:
            raise ValueError("expected a score from 1 to 5") from None
        return int(found.group(1))
    score = data.get("score") if isinstance(data, dict) else None
    if isinstance(score, str) and score.strip().isdigit():
        score = int(score.strip())
    if isinstance(score, float) and score.is_integer():
        score = int(score)
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValueError('expected {"score": <an integer from 1 to 5>}')
    return score
