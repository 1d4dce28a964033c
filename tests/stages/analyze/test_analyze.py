"""analyze: units and the contract through the real lifecycle with stand-in upstream stages."""

from __future__ import annotations

import json

import pytest
from harness import publish_records

from tube2lora_analyze.cli import SPEC as ANALYZE
from tube2lora_analyze.quality import factors, score
from tube2lora_analyze.tokens import MistralTokens
from tube2lora_shared.config import load_config
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.languages import identify
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.records import Chunk, Normalized, Profile, Segment, Transcript, Video
from tube2lora_shared.rundir import RunDir

ENGLISH = ("Alright, grease monkeys, Toby here, let's get our hands dirty. Here's the thing. A dirty chain "
           "eats your cassette and your chainrings, and those cost real money. So we clean it properly. ")
SPANISH = ("Hola a todos, hoy vamos a limpiar la cadena de la bicicleta. La cadena sucia se come el cassette "
           "y los platos, y eso cuesta dinero de verdad. ")


def test_quality_does_not_punish_length():
    short = {"source": "whisper", "mean_avg_logprob": -0.35, "words_per_minute": 150, "normalize_similarity": 0.9,
             "mattr": 0.7, "reading_ease": 75, "words": 300}
    assert score(factors(short)) == score(factors({**short, "words": 30000}))
    assert score(factors(short)) > score(factors({**short, "mean_avg_logprob": -1.07, "words_per_minute": 22}))
    assert 0 <= score(factors({})) <= 1


def test_language_identification_is_deterministic():
    assert identify(ENGLISH)[0] == "en" and identify(SPANISH)[0] == "es"
    assert identify(ENGLISH) == identify(ENGLISH)
    assert identify("1234 !!") == (None, 0.0)


def test_mistral_tokens_match_mistral_common():
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    tokens = MistralTokens("v3")
    reference = MistralTokenizer.from_file(str(tokens.path)).instruct_tokenizer.tokenizer
    assert tokens.count(ENGLISH) == len(reference.encode(ENGLISH, bos=False, eos=False)) > 30


def publish_chain(path, texts: dict[str, str]):
    videos = [Video(id=vid, url=f"http://x/{vid}", status="success", duration=120.0) for vid in texts]
    transcripts = [Transcript(id=vid, status="success", source="whisper", language="en", duration=120.0,
                              segments=[Segment(start=0, end=60, text=text[: len(text) // 2], avg_logprob=-0.2),
                                        Segment(start=60, end=120, text=text[len(text) // 2:], avg_logprob=-0.6)])
                   for vid, text in texts.items()]
    normalized = [Normalized(id=vid, status="success", title=f"title {vid}", text=text,
                             chunks=[Chunk(index=0, start=0, end=120, source=text, text=text)])
                  for vid, text in texts.items()]
    publish_records(path, "download", "videos.jsonl", videos)
    publish_records(path, "transcribe", "transcripts.jsonl", transcripts)
    publish_records(path, "normalize", "normalized.jsonl", normalized)


def test_profiles_join_every_stage(recipe):
    path = recipe(analyze={"tokenizer": "v3"})
    publish_chain(path, {"en1": ENGLISH * 3, "es1": SPANISH * 3})
    assert run_stage(ANALYZE, path) == 0
    stage = RunDir.for_config(load_config(path)).stage_dir("analyze")
    profiles = {p.id: p for p in read_jsonl(stage / "profiles.jsonl", Profile)}
    en = profiles["en1"]
    assert en.language == "en" and profiles["es1"].language == "es"
    assert en.tokens_target > en.words * 0.9 and en.tokens_cl100k > 0 and en.sentences == 12
    assert en.mean_avg_logprob == pytest.approx(-0.4)  # duration-weighted over the two segments
    assert en.words_per_minute == pytest.approx(en.words / 2, abs=0.1)
    assert len(en.minhash) == 128 and 0 < en.quality <= 1 and set(en.quality_factors) >= {"confidence"}
    assert en.reading_ease is not None and en.mattr > 0
    assert json.loads((stage / "metrics.jsonl").read_text().splitlines()[0])["tokens_target"] == en.tokens_target


def test_unknown_tokenizer_is_a_config_error(recipe):
    path = recipe(analyze={"tokenizer": "v99"})
    publish_chain(path, {"en1": ENGLISH})
    assert run_stage(ANALYZE, path) == 2


def test_unrelated_russian_or_japanese_texts_have_different_signatures():
    from tube2lora_analyze.signature import minhash, shingles
    from tube2lora_shared.segmentation import words

    a = "Сегодня мы чистим велосипедную цепь тряпкой и щёткой, а потом смазываем каждый ролик."
    b = "Мой кот любит спать на подоконнике весь день, особенно когда светит солнце."
    assert shingles(a, 5) and minhash(a, 5, 64) != minhash(b, 5, 64)  # ASCII-only words gave both the empty set
    ja, zh = "今日はブレーキパッドの交換について話します。", "今天我们聊聊怎么清洗自行车链条。"
    assert len(shingles(ja, 5)) == len(words(ja)) - 4 and minhash(ja, 5, 64) != minhash(zh, 5, 64)
