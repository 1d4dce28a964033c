"""Speaker turns in generate (pure): passages never cross the creator's turns, and a question asked right before
a turn becomes that passage's real question when it passes the question gates."""

from __future__ import annotations

from tube2lora_generate.config import OwnWords, OwnWordsGates
from tube2lora_generate.own_words import real_questions
from tube2lora_generate.passages import cut, passages_of
from tube2lora_generate.turns import key, openings, question_of
from tube2lora_shared.records import Chunk, Kept, Normalized

ANSWER_1 = ("Chains wear out because grit gets between the rollers and the pins. Every ride grinds a little more "
            "metal away, and after a few thousand kilometres the chain is longer than it should be.")
ANSWER_2 = ("Check the chain with a wear gauge every month. When the gauge drops in, replace the chain before it "
            "chews the cassette, because a new cassette costs four times as much as a chain.")


def interview() -> Normalized:
    def chunk(i, text, creator):
        return Chunk(index=i, start=i, end=i + 1, source=text, text=text, speaker="S1" if creator else "S2",
                     is_creator=creator)
    chunks = [chunk(0, "Welcome to the show. Why do chains wear out?", False), chunk(1, ANSWER_1, True),
              chunk(2, "That makes sense. So how do I know when a chain is worn?", False), chunk(3, ANSWER_2, True)]
    return Normalized(id="v", status="success", chunks=chunks, text=f"{ANSWER_1} {ANSWER_2}")


def test_openings_map_each_creator_turn_to_the_question_before_it():
    found = openings(interview(), 40)
    assert found == {key("Chains wear out because grit gets between the rollers and the pins."):
                     "Welcome to the show. Why do chains wear out?",
                     key("Check the chain with a wear gauge every month."):
                     "That makes sense. So how do I know when a chain is worn?"}
    assert openings(interview(), 12)[key("Check the chain with a wear gauge every month.")] == \
        "So how do I know when a chain is worn?"  # only what fits the question's length
    assert question_of("That was great. Thanks for coming.", 40) is None  # a turn that asks nothing
    assert question_of("of the season. What is the hardest part?", 40) == "What is the hardest part?"
    solo = Normalized(id="s", status="success", chunks=[Chunk(index=0, start=0, end=1, source="a", text="A b.")])
    assert openings(solo, 40) == {}


def test_passages_close_where_a_turn_starts_even_mid_sentence():
    turns = frozenset(openings(interview(), 40))
    text = f"{ANSWER_1} {ANSWER_2}"
    assert cut(text, 40, 300)[0].startswith(f"{ANSWER_1} Check the chain")  # without turns: across both
    assert cut(text, 40, 300, turns) == [ANSWER_1, ANSWER_2]
    glued = f"{ANSWER_1[:-1]} {ANSWER_2}"  # the first turn lost its full stop to a segment across speakers
    assert cut(glued, 40, 300, turns) == [ANSWER_1[:-1], ANSWER_2]


def test_real_questions_replace_generated_ones_only_through_the_gates():
    cfg = OwnWords(min_words=20)
    found, _ = passages_of(Kept(id="v", text=f"{ANSWER_1} {ANSWER_2}", words=70), "en", cfg, ["en"],
                           openings(interview(), 40))
    assert [p.question for p in found] == ["Welcome to the show. Why do chains wear out?",
                                           "That makes sense. So how do I know when a chain is worn?"]
    real, turned_down = real_questions(found, OwnWordsGates())
    assert set(real) == {"v:0", "v:1"} and real["v:0"].value == found[0].question and not turned_down
    real, turned_down = real_questions(found, OwnWordsGates(max_question_words=10))
    assert set(real) == {"v:0"} and turned_down == {"question_too_long": 1}  # v:1 gets a generated question


def test_a_japanese_question_is_taken_as_written():
    def chunk(i, text, creator):
        return Chunk(index=i, start=i, end=i + 1, source=text, text=text, speaker="S1" if creator else "S2",
                     is_creator=creator)
    answer = "古いチェーンは伸びています。交換しましょう。"
    video = Normalized(id="j", status="success", text=answer, chunks=[
        chunk(0, "ようこそ。", False), chunk(1, "チェーンはいつ交換しますか？", False), chunk(2, answer, True)])
    assert openings(video, 40) == {key("古いチェーンは伸びています。"): "ようこそ。チェーンはいつ交換しますか？"}
    assert question_of("今日は晴れです。ブレーキはどうですか？", 40) == "今日は晴れです。ブレーキはどうですか？"
