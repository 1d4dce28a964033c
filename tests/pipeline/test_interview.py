"""An interview through transcribe (real whisper and voice encoder on espeak-ng speech), normalize (as spoken)
and generate (the loopback fake LLM): only the creator's words become answers, and the host's questions,
asked in the video, are the user turns of the creator's answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import REPO, publish_download, publish_records, video

from tube2lora_demo.fake_llm import FakeOpenAI
from tube2lora_demo.interview import CREATOR, render
from tube2lora_generate.cli import SPEC as GENERATE
from tube2lora_generate.turns import key
from tube2lora_normalize.cli import SPEC as NORMALIZE
from tube2lora_shared.config import load_config
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.records import ChatExample, Kept, Normalized, Passage, Transcript
from tube2lora_shared.rundir import RunDir
from tube2lora_transcribe.cli import SPEC as TRANSCRIBE

pytestmark = pytest.mark.slow  # whisper and the voice encoder on about 2 minutes of speech

PROMPTS = REPO / "configs" / "prompts"


def host_segments(t: Transcript, turns: list[dict]) -> list[str]:
    """The transcribed text of what the host said (by the script's timing, not by the attribution)."""
    def who(s):
        return max(turns, key=lambda u: min(u["end"], s.end) - max(u["start"], s.start))["speaker"]
    return [s.text for s in t.segments if who(s) != CREATOR]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("speakers")
    audio = render(tmp / "audio")
    path = tmp / "recipe.yaml"
    path.write_text(f"""
paths: {{runs_dir: {tmp / 'runs'}}}
llm: {{base_url: BASE, model: fake-model, backoff_s: 0.01, max_attempts: 1}}
transcribe: {{prefer: whisper}}
normalize: {{enabled: false}}
generate:
  creator: Wren Oakes
  own_words: {{prompt_file: {PROMPTS / 'own_words.yaml'}, min_words: 30, gates: {{min_score: null}}}}
  talk_as_creator: {{enabled: true, prompt_file: {PROMPTS / 'talk_as_creator.yaml'}, gates: {{min_source_words: 20}}}}
  editorial_rewrite: {{enabled: false}}
""")
    with FakeOpenAI() as server:
        path.write_text(path.read_text().replace("BASE", server.base_url))
        publish_download(path, [(video(n, extractor="Generic"), audio[n]["file"]) for n in ("interview", "solo")])
        assert run_stage(TRANSCRIBE, path) == 0
        assert run_stage(NORMALIZE, path) == 0
        run = RunDir.for_config(load_config(path))
        normalized = list(read_jsonl(run.stage_dir("normalize") / "normalized.jsonl", Normalized))
        publish_records(path, "filter", "kept.jsonl", [Kept(id=n.id, title=n.title, text=n.text, words=len(n.text.split()))
                                                       for n in normalized])
        assert run_stage(GENERATE, path) == 0
    transcripts = {t.id: t for t in read_jsonl(run.stage_dir("transcribe") / "transcripts.jsonl", Transcript)}
    return run, audio, transcripts


def test_no_guest_word_is_a_training_answer(generated):
    run, audio, transcripts = generated
    out = run.stage_dir("generate")
    host = [key(s) for s in host_segments(transcripts["interview"], audio["interview"]["turns"])]
    assert len(host) >= 3
    answers = [m["content"] for f in out.rglob("dataset_messages.jsonl") for c in read_jsonl(f, ChatExample)
               for m in c.messages if m["role"] == "assistant"]
    passages = [p.text for p in read_jsonl(out / "passages.jsonl", Passage)]
    assert len(passages) >= 3 and answers
    for text in answers + passages:
        assert not any(h in key(text) for h in host), text
    normalized = (run.stage_dir("normalize") / "interview.txt").read_text()
    assert not any(h in key(normalized) for h in host)  # the creator's text (monologue) holds no host sentence


def test_the_hosts_questions_are_the_user_turns(generated):
    run, audio, transcripts = generated
    host = key(" ".join(host_segments(transcripts["interview"], audio["interview"]["turns"])))
    chats = list(read_jsonl(run.stage_dir("generate") / "own_words" / "dataset_messages.jsonl", ChatExample))
    real = [c for c in chats if c.provenance.question_source == "real"]
    print("real questions:", [c.messages[1]["content"] for c in real])
    assert len(real) == 3 and all(c.provenance.video_id == "interview" for c in real)  # all three questions
    for chat in real:
        question = chat.messages[1]
        assert question["role"] == "user" and question["content"].endswith("?") and key(question["content"]) in host
    assert all(c.provenance.question_source == "generated" for c in chats if c.provenance.video_id == "solo")
