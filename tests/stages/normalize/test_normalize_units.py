import random

import pytest

from tube2lora_normalize.answer import parse_clean
from tube2lora_normalize.chunking import chunk, split_long
from tube2lora_shared.errors import UsageError
from tube2lora_shared.prompts import load_template
from tube2lora_shared.records import Segment


def test_no_chunk_ever_exceeds_the_hard_maximum():
    rng = random.Random(3)
    vocabulary = ["chain", "lube", "roller", "Slow.", "smooth!", "x" * 180, "derailleur?"]
    segments, t = [], 0.0
    for _ in range(200):
        size = rng.choice([3, 10, 40, 400])  # some segments far longer than a chunk
        text = " ".join(rng.choice(vocabulary) for _ in range(size))
        segments.append(Segment(start=t, end=t + size * 0.3, text=text))
        t += size * 0.3
    drafts = chunk(segments, target_chars=300, max_chars=450, overlap_chars=80)
    assert all(len(d.text) <= 450 for d in drafts)
    assert " ".join(d.text for d in drafts).split() == " ".join(s.text for s in segments).split()
    assert all(a.end <= b.start + 1e-6 and a.start <= a.end for a, b in zip(drafts, drafts[1:]))
    assert drafts[0].context == "" and all(d.context and drafts[d.index - 1].text.endswith(d.context)
                                           for d in drafts[1:])


def test_long_segments_split_at_sentences_then_words():
    text = "One two three. Four five six. " + "word " * 50
    parts = split_long(text.strip(), 40)
    assert parts[0] == "One two three. Four five six."
    assert all(len(p) <= 40 for p in parts)
    assert split_long("a" * 95, 40) == ["a" * 40, "a" * 40, "a" * 15]


def test_chunks_keep_segment_times():
    segments = [Segment(start=i * 10, end=i * 10 + 9, text=f"Sentence number {i} is here.") for i in range(10)]
    drafts = chunk(segments, target_chars=60, max_chars=100)
    assert drafts[0].start == 0 and drafts[-1].end == 99
    assert len(drafts) == 5


@pytest.mark.parametrize("answer", [
    '{"text": "Keep the rubber side down."}',
    '```json\n{"text": "Keep the rubber side down."}\n```',
    "<<<CLEAN>>>\nKeep the rubber side down.\n<<<END>>>",
    'noise before {"text": "Keep the rubber side down."} noise after',
])
def test_answers_models_really_give(answer):
    assert parse_clean(answer) == "Keep the rubber side down."


@pytest.mark.parametrize("answer, problem", [
    ('{"text": "Here is the cleaned transcript: keep the rubber side down."}', "talks about the transcript"),
    ('{"text": ""}', "empty"),
    ('{"txt": "x"}', 'no string field "text"'),
    ("Keep the rubber side down.", "no JSON object and no delimited block"),
    ('{"text": "unterminated', "no JSON object"),
])
def test_unusable_answers_say_why(answer, problem):
    with pytest.raises(ValueError, match=problem):
        parse_clean(answer)


def test_prompt_template_placeholders_are_checked_at_load(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nsystem: You are {creator}.\nuser: Clean {text} for {audience}.\n")
    with pytest.raises(UsageError, match=r"unknown placeholder\(s\) \{audience\}"):
        load_template(path, "normalize.prompt_file", {"creator", "text"})
    template = load_template(path, "normalize.prompt_file", {"creator", "text", "audience"})
    assert template.messages(creator="Toby", text="um hi", audience="all")[1]["content"] == "Clean um hi for all."


def test_the_voice_guard_keeps_what_was_said():
    from tube2lora_normalize.chunking import Draft
    from tube2lora_normalize.config import NormalizeConfig
    from tube2lora_normalize.guard import guard
    from tube2lora_shared.llm import Answer, LLMError

    cfg = NormalizeConfig(prompt_file="p.yaml")
    source = "Um so the the chain needs, uh, one drop of lube on every roller, and then you wipe it off."
    draft = Draft(index=3, start=1.0, end=9.0, text=source, context="")
    cleaned = guard(draft, Answer("So the chain needs one drop of lube on every roller, and then you wipe it off.",
                                  "...", cached=False), cfg)
    assert cleaned.kept_source is None and cleaned.text.startswith("So the chain") and cleaned.similarity > 0.55
    summary = guard(draft, Answer("A video about bikes.", "...", cached=False), cfg)
    assert summary.kept_source == "drift" and summary.text == source and summary.length_ratio < 0.6
    failed = guard(draft, LLMError("timeout", "timeout after 4 attempts"), cfg)
    assert (failed.kept_source, failed.text, failed.index, failed.end) == ("timeout", source, 3, 9.0)


def test_a_long_japanese_segment_splits_at_its_sentence_ends_without_adding_spaces():
    text = "今日はブレーキの話です。" * 30
    parts = split_long(text, 100)
    assert all(len(p) <= 100 and p.endswith("。") for p in parts) and "".join(parts) == text
    # a line break inside a Japanese segment (a two-line caption) is no space in its chunk
    (draft,) = chunk([Segment(start=0, end=4, text="今日はブレーキの\n話です。")], target_chars=1500, max_chars=2500)
    assert draft.text == "今日はブレーキの話です。"


def test_a_chunk_never_mixes_speakers():
    segments = [Segment(start=0, end=2, text="Why do you oil a chain?", speaker="S2", is_creator=False),
                Segment(start=2, end=5, text="Because a dry chain eats the cassette.", speaker="S1", is_creator=True),
                Segment(start=5, end=8, text="And a wet one collects grit.", speaker="S1", is_creator=True),
                Segment(start=8, end=9, text="How often?", speaker="S2", is_creator=False)]
    drafts = chunk(segments, target_chars=1500, max_chars=2500)
    assert [(d.speaker, d.is_creator, d.text) for d in drafts] == [
        ("S2", False, "Why do you oil a chain?"),
        ("S1", True, "Because a dry chain eats the cassette. And a wet one collects grit."),
        ("S2", False, "How often?")]
    assert len(chunk([s.model_copy(update={"speaker": None, "is_creator": None}) for s in segments], 1500, 2500)) == 1


def test_old_transcripts_without_speakers_still_read():
    old = Segment.model_validate({"start": 0, "end": 1, "text": "hi", "avg_logprob": -0.2})
    assert (old.speaker, old.is_creator) == (None, None)


def test_a_cleaned_japanese_answer_keeps_its_line_breaks_out_without_adding_spaces():
    answer = '{"text": "まず、ホイールを\\n外します。\\nThen the\\nbrake."}'
    assert parse_clean(answer) == "まず、ホイールを外します。 Then the brake."
