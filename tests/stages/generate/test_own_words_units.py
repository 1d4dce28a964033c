"""The pure parts of own_words: passages, deixis, the filter's cuts in chunks, question and score parsing,
the question gate, the config's checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tube2lora_generate.config import GenerateConfig, OwnWords, OwnWordsGates
from tube2lora_generate.cuts import surviving_chunks
from tube2lora_generate.deixis import deixis_share
from tube2lora_generate.gates import is_question, question_failures, question_gate
from tube2lora_generate.parsing import parse_question, parse_score
from tube2lora_generate.passages import cut, passages_of
from tube2lora_shared.records import Chunk, Kept, Normalized
from tube2lora_shared.textstats import words

SENTENCE = "Here's the thing, you check the chain before every ride and you wipe it when it is wet."  # 18 words


def test_passages_are_whole_sentences_within_bounds_cut_verbatim():
    text = "  " + " ".join(f'{SENTENCE[:-1]} number {i}, he said "twice."' for i in range(20)) + "  "
    found = cut(text, 60, 120)
    assert len(found) >= 5 and all(p in text for p in found)  # slices of the text, quotes and spacing kept
    assert all(p.endswith('"twice."') for p in found)  # closed at sentence ends only
    assert all(60 <= len(words(p)) <= 120 for p in found)
    assert sum(len(words(p)) for p in found) == len(words(text))  # nothing lost: the short tail joined the last


def test_a_run_on_sentence_is_cut_at_its_commas_then_its_words():
    run_on = ", ".join(["and then you turn the crank slowly backwards"] * 40) + "."  # one 320-word sentence
    found = cut(run_on, 60, 100)
    assert all(len(words(p)) <= 100 for p in found) and all(p in run_on for p in found)
    assert all(p.endswith(("backwards,", "backwards.")) for p in found)
    assert cut(" ".join(["word"] * 250), 60, 100) == [" ".join(["word"] * 100)] * 2 + [" ".join(["word"] * 50)]


def test_passages_of_a_video_drop_short_deixis_and_foreign_passages_with_reasons():
    short = Kept(id="v", text="Too short to be a whole thought.", words=7)
    assert passages_of(short, "en", OwnWords(), ["en"]) == ([], {"too_short": 1})
    deixis = Kept(id="v", text=" ".join(["In this video I show you my shed, so smash that like button and subscribe "
                                         "to the channel."] * 6), words=0)
    assert passages_of(deixis, "en", OwnWords(), ["en"])[1] == {"deixis": 1}
    english = Kept(id="v", title="T", text=" ".join([SENTENCE] * 5), words=0)
    usable, dropped = passages_of(english, None, OwnWords(), ["en"])
    assert not dropped and [(p.id, p.index, p.language, p.words, p.video_title) for p in usable] == [("v:0", 0, "en", 90, "T")]
    assert passages_of(english, "en", OwnWords(), ["de"]) == ([], {"wrong_language": 1})
    assert len(passages_of(english, "en", OwnWords(), [])[0]) == 1  # no allowlist: any language
    numbers = Kept(id="v", text=" ".join(str(n) for n in range(70)) + ".", words=70)  # no letters: no language
    assert passages_of(numbers, None, OwnWords(), ["en"]) == ([], {"unknown_language": 1})
    assert passages_of(numbers, "de", OwnWords(), ["en"]) == ([], {"wrong_language": 1})  # the video's language
    assert passages_of(numbers, "en", OwnWords(), ["en"])[0][0].language == "en"
    # py3langid names written Cantonese `yue`: a zh channel's passage in it is Chinese, not a foreign language
    cantonese = Kept(id="v", text="佢哋話今日會落雨，我哋唔好出去啦，喺屋企食飯算啦。你睇下呢架車幾靚，我好鍾意佢嘅顏色，但係好貴。" * 2,
                     words=0)
    usable, dropped = passages_of(cantonese, "zh", OwnWords(), ["zh"])
    assert not dropped and usable[0].language == "yue"


def test_deixis_share_counts_the_words_of_sentences_about_the_video():
    assert deixis_share(SENTENCE) == 0
    assert deixis_share("Link in the description. " + SENTENCE) == pytest.approx(4 / 22)
    assert deixis_share("Smash that like button. Don't forget to subscribe! Thanks for watching.") == 1
    assert deixis_share("The cable runs down the down tube below the bottle cage.") == 0


def test_the_filters_cuts_reach_the_chunks_even_across_a_chunk_edge():
    spoken = f"{SENTENCE} Please like this sticker on the frame. {SENTENCE} Keep the rubber side down."
    normalized = Normalized(id="v", status="success", text=spoken, chunks=[
        Chunk(index=0, start=0, end=5, source="um " + spoken[:60], text=spoken[:spoken.index(" Please")]),
        Chunk(index=1, start=5, end=9, source="raw", text=spoken[spoken.index("Please"):])])
    kept = Kept(id="v", text=f"{SENTENCE} Please like this sticker on the frame. {SENTENCE}", words=0)
    chunks = surviving_chunks(normalized, kept)
    assert chunks[0] == normalized.chunks[0]  # untouched: raw source kept
    assert chunks[1].text == f"Please like this sticker on the frame. {SENTENCE}" and chunks[1].source == chunks[1].text
    assert surviving_chunks(normalized, Kept(id="v", text=SENTENCE, words=0))[1].text == SENTENCE
    assert surviving_chunks(normalized, Kept(id="v", text="Something else entirely.", words=0)) == []


@pytest.mark.parametrize("text, asking", [
    ("How do I true a wheel?", True), ("Toby, how often should I wax the chain", True),
    ("The chain is dirty, right?", True), ("¿Cómo cambio la cadena", True), ("Wie oft soll ich ölen?", True),
    ("Do this every week.", False), ("I like bikes.", False), ("Tell me about chains.", False), ("", False),
])
def test_is_question(text, asking):
    assert is_question(text) is asking


def test_question_gate_reasons():
    passage = " ".join([SENTENCE] * 4)
    g = OwnWordsGates()
    assert question_gate("How often should I clean my chain?", passage, g) == (
        None, {"question_words": 7, "copy_share": 0.0, "shared_words": 1})  # "chain"
    assert question_gate("What is the answer to this question?", passage, g)[0] == "off_topic"
    assert question_gate("What is the best way to bake bread?", passage, g)[0] == "off_topic"
    assert question_gate("What is the best way to bake bread?", passage, OwnWordsGates(min_shared_words=0))[0] is None
    assert question_gate("Chains are great.", passage, g)[0] == "not_a_question"
    assert question_gate("Why?", passage, g)[0] == "question_too_short"
    assert question_gate("Why " + "really " * 45 + "?", passage, g)[0] == "question_too_long"
    quoting = "Why do you check the chain before every ride and you wipe it?"
    reason, metrics = question_gate(quoting, passage, g)
    assert reason == "question_quotes_answer" and metrics["copy_share"] > 0.5
    assert question_gate(quoting, passage, OwnWordsGates(max_copy_share=1.0))[0] is None


def test_questions_and_scores_parse_tolerantly_and_refuse_nonsense():
    assert parse_question('```json\n{"question": "  Why   wax?"}\n```') == "Why wax?"
    assert parse_question('Question: "How do I start?"\nSome chatter') == "How do I start?"
    for bad in ('{"q": "x"}', '{"question": "  "}', '{"question": 3}'):
        with pytest.raises(ValueError):
            parse_question(bad)
    assert [parse_score(t) for t in ('{"score": 4}', '{"score": "5"}', '{"score": 3.0}', "2", "Score: 4/5")] == [
        4, 5, 3, 2, 4]
    for bad in ('{"score": 0}', '{"score": 6}', '{"score": true}', "great", "12", '{"rating": 4}'):
        with pytest.raises(ValueError):
            parse_score(bad)


def test_config_checks():
    with pytest.raises(ValidationError, match="max_words"):
        OwnWords(min_words=200, max_words=100)
    with pytest.raises(ValidationError, match="own_words.prompt_file is required"):
        GenerateConfig()
    with pytest.raises(ValidationError, match="curation_prompt_file is required"):
        GenerateConfig(own_words={"prompt_file": "q.yaml"})
    assert GenerateConfig(own_words={"prompt_file": "q.yaml", "gates": {"min_score": None}}).own_words.enabled
    with pytest.raises(ValidationError, match="persona_system_written must differ"):
        GenerateConfig(own_words={"enabled": False}, editorial_rewrite={"enabled": True, "prompt_file": "e.yaml"},
                       persona_system_written="You are {creator}. Answer the way {creator} talks in their videos: "
                                              "their words, their phrases, their opinions.")
    cfg = GenerateConfig(own_words={"prompt_file": "q.yaml", "curation_prompt_file": "c.yaml"})
    assert not cfg.talk_as_creator.enabled and not cfg.editorial_rewrite.enabled  # own words by default


RUSSIAN = ("Сегодня мы говорим о цепи. Грязная цепь съедает кассету и звёзды, а они стоят денег. Поэтому мы почистим "
           "её как следует, без всякой драмы.")
JAPANESE = "今日はブレーキパッドの交換について話します。古いパッドを外して、新しいパッドを入れます。"


def test_an_answer_in_another_language_is_rejected_first_with_every_failure_listed():
    g = OwnWordsGates()
    assert question_gate("Что нужно знать про кассету?", RUSSIAN, g, language="ru") == (
        None, {"question_words": 5, "copy_share": 0.0, "shared_words": 1})  # "кассету", a Cyrillic content word
    failed, metrics = question_failures("What should I know about the chain?", RUSSIAN, g, language="ru")
    assert failed == ["wrong_language", "off_topic"] and metrics["wrong_language"] == "en"
    assert question_gate("What should I know about the chain?", RUSSIAN, OwnWordsGates(language_probability=None),
                         language="ru")[0] == "off_topic"  # the check switched off: only the other gates speak
    assert question_gate("How do I clean the chain?", SENTENCE, g, language="en")[0] is None
    assert question_gate("How do I clean the chain?", SENTENCE, g, language=None)[0] is None  # nothing to compare with


def test_japanese_questions_share_kanji_and_katakana_terms_with_their_passage():
    g = OwnWordsGates()
    assert question_gate("パッドの交換はどうしますか？", JAPANESE, g, language="ja")[0] is None  # パッ ッド 交換
    assert question_gate("天気はどうですか？", JAPANESE, g, language="ja")[0] == "off_topic"
    assert is_question("パッドの交換はどうしますか？") and cut(JAPANESE * 3, 20, 40) == [JAPANESE[:22], JAPANESE[22:]] * 3


def test_a_russian_passage_is_asked_in_russian_and_a_short_foreign_one_dropped_for_its_language():
    kept = Kept(id="v", text=RUSSIAN, words=0)
    found, dropped = passages_of(kept, "ru", OwnWords(min_words=10, max_words=40), ["ru"])
    assert [p.language for p in found] == ["ru"] and found[0].words == len(words(RUSSIAN)) == 24
    found, dropped = passages_of(Kept(id="v", text=RUSSIAN, words=0), "ru", OwnWords(min_words=60), ["en"])
    assert found == [] and dropped == {"wrong_language": 1}  # also too short: the language is the reason


def test_a_question_naming_its_videos_topic_is_on_topic_and_talk_after_it_is_cut():
    passage = "Some of you are hanging it up until spring, and that is fine, but do it properly and dry it first."
    g = OwnWordsGates()
    assert question_gate("How do I store my bike for winter?", passage, g)[0] == "off_topic"
    assert question_gate("How do I store my bike for winter?", passage, g, "Winter storage for your bike")[0] is None
    assert question_gate("How do I change brake pads?", "New pad's in, wheel back.", g)[0] is None  # pad's ~ pads
    assert parse_question('{"question": "How do I fix a brake pad? (In the video) You just need a key."}') == (
        "How do I fix a brake pad?")
    assert parse_question('{"question": "What lube do you use? And how often?"}') == "What lube do you use? And how often?"
    assert parse_question('{"question": "Which lube\nis best?"}') == "Which lube is best?"  # a raw line break
