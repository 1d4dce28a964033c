"""Language codes from whisper, YouTube, the config and py3langid name some languages differently: the same
language must match itself whatever the spelling, a different one must still be caught, and a language the
identifier does not know is not checked by it."""

from __future__ import annotations

import pytest

from tube2lora_shared.languages import allowed, first_allowed, foreign, identifiable, identify, name

NYNORSK = "Eg likar å sykle om morgonen, og så drikk eg kaffi på kontoret før eg byrjar å arbeide."
JAVANESE = "Aku seneng mangan sega lan iwak ing omah karo kulawarga, banjur turu awan."
CANTONESE = "我哋今日去咗茶樓飲茶，食咗好多點心，真係好開心。"
EGYPTIAN = "انا عايز اروح البيت دلوقتي عشان تعبان قوي من الشغل النهارده"
ENGLISH = "I like to ride my bike in the morning before I start work at the office."


@pytest.mark.parametrize("code, allowlist", [("iw", ["he"]), ("he", ["iw"]), ("nb", ["no"]), ("nn", ["nb"]),
                                             ("no", ["nn"]), ("jw", ["jv"]), ("fil", ["tl"]), ("in", ["id"])])
def test_one_language_under_two_codes_is_allowed(code, allowlist):
    assert allowed(code, allowlist)


def test_other_languages_stay_apart_and_captions_match_by_alias():
    assert not allowed("nl", ["no"]) and not allowed("jv", ["id"]) and not allowed("yue", ["zh"])
    assert first_allowed(["en", "iw"], ["he"]) == "iw"  # YouTube's Hebrew captions
    assert name("nb", "?") == "Norwegian" and name("iw", "?") == "Hebrew"


@pytest.mark.parametrize("text, expected, identified", [(NYNORSK, "no", "nn"), (NYNORSK, "nb", "nn"),
                                                         (JAVANESE, "jw", "jv"), (CANTONESE, "zh", "yue"),
                                                         (EGYPTIAN, "ar", None)])
def test_an_answer_in_the_expected_language_is_not_foreign_whatever_its_code(text, expected, identified):
    code, probability = identify(text)
    assert identified is None or code == identified  # what py3langid calls it (an Arabic text: ar or arz)
    assert foreign(text, expected, 0.5) is None, (code, probability)


def test_a_foreign_answer_is_still_caught_and_unknown_languages_are_not_judged():
    assert foreign(ENGLISH, "jw", 0.5) == "en" and foreign(ENGLISH, "nb", 0.5) == "en"
    assert foreign(NYNORSK, "en", 0.5) == "nn"
    assert not identifiable("yi") and not identifiable("haw") and identifiable("jw") and identifiable("nb")
    assert foreign(ENGLISH, "yi", 0.5) is None  # py3langid knows no Yiddish: it cannot say the answer is not
