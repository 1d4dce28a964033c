"""One segmentation for every script: words, sentences, and the measures built on them."""

from __future__ import annotations

import pytest

from tube2lora_shared.segmentation import collapse_space, ideographic, join_text, sentence_spans, sentences, words
from tube2lora_shared.textstats import copied_words, mattr, reading_ease, similarity, word_ngrams


@pytest.mark.parametrize("text, expected", [
    ("Größe und Übung", ["Größe", "und", "Übung"]),
    ("Привет, как дела?", ["Привет", "как", "дела"]),
    ("今日は雨。", ["今", "日", "は", "雨"]),  # Japanese: one character, one word
    ("ブレーキー", ["ブ", "レ", "ー", "キ", "ー"]),  # the long-vowel mark is a character of the word too
    ("我们骑车吧！", ["我", "们", "骑", "车", "吧"]),
    ("مرحبا بكم في القناة", ["مرحبا", "بكم", "في", "القناة"]),
    ("Καλημέρα σας, φίλοι", ["Καλημέρα", "σας", "φίλοι"]),
    ("नमस्ते दोस्तों", ["नमस्ते", "दोस्तों"]),  # vowel signs and virama stay inside their word
    ("오늘은 브레이크", ["오늘은", "브레이크"]),  # Korean writes spaces: words as written
    ("Don't rock'n'roll in the 90's, 3.5 km", ["Don't", "rock'n'roll", "in", "the", "90's", "3", "5", "km"]),
])
def test_words_in_every_script(text, expected):
    assert words(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Hello there. e.g. this stays. He said \"stop.\" Then left!",
     ["Hello there. e.g. this stays.", "He said \"stop.\"", "Then left!"]),
    ("Привет, друзья. Сегодня говорим о цепи! Готовы?", ["Привет, друзья.", "Сегодня говорим о цепи!", "Готовы?"]),
    ("今日は雨です。「傘を持って。」明日は晴れ！", ["今日は雨です。", "「傘を持って。」", "明日は晴れ！"]),
    ("我们出发吧。路很长！", ["我们出发吧。", "路很长！"]),
    ("مرحبا بكم. كيف حالكم؟ جيد", ["مرحبا بكم.", "كيف حالكم؟", "جيد"]),
    ("Καλημέρα. Πάμε βόλτα.", ["Καλημέρα.", "Πάμε βόλτα."]),
    ("नमस्ते दोस्तों। आज हम बात करेंगे।", ["नमस्ते दोस्तों।", "आज हम बात करेंगे।"]),
])
def test_sentences_in_every_script(text, expected):
    assert sentences(text) == expected
    assert [text[a:b] for a, b in sentence_spans(text)] == expected  # verbatim slices


def test_pieces_join_back_as_written():
    assert join_text(["今日は雨です。", "「傘を持って。」", "明日は晴れ！"]) == "今日は雨です。「傘を持って。」明日は晴れ！"
    assert join_text(["Hello there.", "Then left!"]) == "Hello there. Then left!"
    assert join_text(["ホイールを", "外します。", "OK, 次は", "ブレーキ"]) == "ホイールを外します。 OK, 次はブレーキ"


def test_white_space_collapses_without_a_space_between_cjk_characters():
    assert collapse_space("ホイールを\n外します。\n 次は  ブレーキ") == "ホイールを外します。次はブレーキ"
    assert collapse_space("轮子\n拆下来。  OK,\tthen\nthe brake") == "轮子拆下来。 OK, then the brake"
    assert collapse_space("  Take the wheel\n off. ") == "Take the wheel off."


def test_ideographic_characters_carry_content():
    assert [w for w in words("ブレーキを調整します") if ideographic(w)] == ["ブ", "レ", "ー", "キ", "調", "整"]


def test_measures_see_words_outside_ascii():
    a = "Сегодня мы чистим велосипедную цепь тряпкой и щёткой."
    b = "Мой кот любит спать на подоконнике весь день."
    assert similarity(a, b) == 0.0 and similarity(a, a) == 1.0  # ASCII-only words made both 1.0
    assert mattr(a) == 1.0 and mattr("да да да да") == 0.25
    grams = word_ngrams([a], 3)
    assert copied_words("Итак, мы чистим велосипедную цепь сегодня.", grams, 3) == (4, 6)
    assert copied_words("今日はブレーキの話です", word_ngrams(["明日はブレーキの日"], 4), 4) == (7, 11)  # 日はブレーキの


def test_reading_ease_only_where_the_formula_has_constants():
    assert reading_ease("The cat sat on the mat. It was warm.") > 80
    assert reading_ease("Кот сидел на ковре. Было тепло.", "ru") is not None
    assert reading_ease("今日は雨です。", "ja") is None and reading_ease("مرحبا بكم.", "ar") is None
