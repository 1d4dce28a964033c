from tube2lora_shared.records import Segment
from tube2lora_transcribe.config import GuardConfig
from tube2lora_transcribe.guard import apply_guard, has_loop


def seg(text, no_speech=0.1):
    return Segment(start=0, end=1, text=text, no_speech_prob=no_speech, avg_logprob=-0.3, compression_ratio=1.5)


def test_known_phrases_are_dropped_only_where_speech_is_unlikely():
    kept, dropped = apply_guard([seg("Thanks for watching!", 0.9), seg("Thanks for watching!", 0.1),
                                 seg("Subtitles by the Amara.org community", 0.8)], GuardConfig())
    assert [s.text for s in kept] == ["Thanks for watching!"]
    assert dropped == {"hallucination_phrase": 2}


def test_repetition_loops_are_dropped():
    segments = [seg("Keep going."), seg("Keep going."), seg("Keep going."), seg("Keep going."),
                seg("and the the the the the end"), seg("A normal sentence here.")]
    kept, dropped = apply_guard(segments, GuardConfig(max_repeats=2))
    assert [s.text for s in kept] == ["Keep going.", "Keep going.", "A normal sentence here."]
    assert dropped == {"repetition": 3}


def test_loops_of_phrases():
    assert has_loop("i am going to i am going to i am going to i am going to".split(), 4)
    assert not has_loop("slow is smooth smooth is fast".split(), 4)


def test_captions_without_speech_scores_are_never_phrase_dropped():
    caption = Segment(start=0, end=1, text="Thank you")
    kept, dropped = apply_guard([caption, Segment(start=1, end=2, text="  ")], GuardConfig())
    assert kept == [caption] and dropped == {"empty": 1}


def test_segments_in_every_script_are_kept():
    texts = ["Größe und Übung.", "Сегодня поговорим о тормозах.", "今日はブレーキの話です。", "今天我们聊聊刹车。",
             "مرحبا بكم في القناة.", "Σήμερα μιλάμε για φρένα.", "आज हम ब्रेक के बारे में बात करेंगे।",
             "오늘은 브레이크 이야기입니다."]
    kept, dropped = apply_guard([seg(t) for t in texts], GuardConfig())
    assert [s.text for s in kept] == texts and not dropped


def test_a_loop_in_japanese_is_a_loop_of_characters():
    kept, dropped = apply_guard([seg("ありがとうありがとうありがとうありがとう"), seg("ブレーキを調整します。")], GuardConfig())
    assert [s.text for s in kept] == ["ブレーキを調整します。"] and dropped == {"repetition": 1}
