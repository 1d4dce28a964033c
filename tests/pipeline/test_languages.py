"""A Russian and Japanese channel through the real chain from captions to generate: YouTube's captions through the
real youtube-transcript-api against the fake YouTube layer, normalize and generate against the fake OpenAI-compatible
server. Transcripts keep their text, words are counted in both scripts, near-duplicates are found (and only they),
the gates keep the videos, and every prompt asks for the transcript's language."""

from __future__ import annotations

from fakes.youtube import FakeTrack, FakeVideo, FakeYouTube
from harness import REPO, publish_download, video

from tube2lora_analyze.cli import SPEC as ANALYZE
from tube2lora_demo.fake_llm import FakeOpenAI
from tube2lora_filter.cli import SPEC as FILTER
from tube2lora_generate.cli import SPEC as GENERATE
from tube2lora_normalize.cli import SPEC as NORMALIZE
from tube2lora_shared.config import load_config
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.records import ChatExample, Dropped, DuplicateCluster, Kept, Passage, Profile, Transcript
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.segmentation import words
from tube2lora_transcribe import captions
from tube2lora_transcribe.cli import SPEC as TRANSCRIBE

PROMPTS = REPO / "configs" / "prompts"
CHAIN = ("Привет, друзья, с вами Саша. Сегодня мы говорим о велосипедной цепи, самой трудолюбивой детали вашего "
         "велосипеда. Грязная цепь не просто выглядит печально, она съедает кассету и звёзды, а они стоят денег. "
         "Поэтому мы почистим её как следует, без всякой драмы. Сначала переключитесь на самую маленькую звезду "
         "сзади, чтобы цепь висела свободно. Возьмите тряпку, оберните её вокруг нижней ветви цепи и медленно "
         "крутите педали назад. Вы увидите, как грязь сходит длинными чёрными полосами. Потом нанесите обезжириватель "
         "щёткой, дайте ему поработать пару минут и смойте тёплой водой. Высушите цепь чистой тряпкой, это важно, "
         "потому что вода под смазкой превращается в ржавчину. Теперь смазка: одна капля на каждый ролик, не больше. "
         "Подождите десять минут, чтобы смазка проникла внутрь, а затем вытрите всё лишнее снаружи. Лишняя смазка "
         "собирает песок и пыль, и тогда вы снова получаете точильный камень вместо цепи. Проверяйте износ цепи "
         "специальным калибром каждые пару месяцев. Растянутая цепь убивает кассету очень быстро, а новая цепь "
         "стоит гораздо дешевле новой кассеты. Вот и всё, ребята, держите колёса на земле.")
BRAKES = ("Тормоза — это единственная система на велосипеде, где я не позволю вам экономить. Колодки изнашиваются "
          "медленно, поэтому вы никогда не замечаете день, когда они перестают быть безопасными. На большинстве "
          "колодок есть маленькие канавки или линия износа. Когда канавок больше нет, колодка закончилась. Для "
          "дисковых тормозов загляните в суппорт с фонариком, и если материал колодки тоньше металлической "
          "основы, меняйте их, пока не испортили ротор. Снимите колесо, выньте шплинт и достаньте старые колодки "
          "пальцами или плоскогубцами. Разведите поршни пластиковой лопаткой, никогда не используйте отвёртку, "
          "потому что царапина на поршне означает утечку жидкости. Вставьте новые колодки, верните шплинт и "
          "поставьте колесо на место. Затем нужно притереть колодки: разгонитесь и плавно тормозите двадцать раз "
          "подряд, не блокируя колесо. Так на роторе появляется ровный слой материала, и тормоза начинают "
          "работать в полную силу. Если после этого рычаг проваливается до руля, в системе воздух, и пора "
          "прокачать тормоза. Это отдельная история, и о ней мы поговорим в следующий раз.")
WHEEL = ("今日は自転車のホイール調整について話します。まず、ホイールを自転車から外して、振れ取り台に取り付けます。"
         "ゆっくり回しながら、リムが左右にぶれている場所を探してください。ぶれている場所が見つかったら、そこに印を付けます。"
         "次に、スポークレンチを使って、ニップルを少しずつ回します。一度に回すのは四分の一回転だけにしてください。"
         "左に寄っている場所では、右側のスポークを締めて、左側のスポークを緩めます。焦らずに、何度も確認しながら作業しましょう。"
         "最後に、すべてのスポークを軽く握って、張りが均等になっているか確かめます。これで、まっすぐ走るホイールの完成です。"
         "ゆっくりやれば、きれいに仕上がります。それでは、また次回お会いしましょう。")
SADDLE = ("今回はサドルの高さの決め方を紹介します。高さが合っていないと、膝を痛めたり、力がうまく伝わらなかったりします。"
          "まず、かかとをペダルに乗せて、クランクを一番下まで回してください。そのとき、脚がまっすぐ伸びる高さが目安です。"
          "実際に走るときは母指球でペダルを踏むので、膝が少しだけ曲がる状態になります。"
          "シートポストのボルトを緩めて、高さを少しずつ変えて試しましょう。一度に動かすのは五ミリまでにしてください。"
          "調整が終わったら、ボルトを規定のトルクで締めることを忘れないでください。"
          "長い距離を走ってみて、腰が左右に揺れるなら高すぎ、膝が窮屈なら低すぎます。自分に合う高さを見つけましょう。")


def lines(text: str, seconds: float) -> list[tuple[float, float, str]]:
    """The text as caption lines, one per sentence, `seconds` each."""
    parts = [s for s in text.replace("。", "。\n").replace(". ", ".\n").splitlines() if s.strip()]
    return [(i * seconds, seconds, s.strip()) for i, s in enumerate(parts)]


REUPLOAD = CHAIN.rsplit(". ", 1)[0] + ". Подписывайтесь на канал, увидимся в следующем видео."
VIDEOS = {"ruChain0001": ("ru", CHAIN, "Русский"), "ruBrakes001": ("ru", BRAKES, "Русский"),
          "ruChainCopy": ("ru", REUPLOAD, "Русский"), "jaWheel0001": ("ja", WHEEL, "日本語"),
          "jaSaddle001": ("ja", SADDLE, "日本語")}


def test_russian_and_japanese_captions_through_the_chain(recipe, monkeypatch):
    fake = FakeYouTube({vid: FakeVideo([FakeTrack(code, name, lines(text, 5.0))])
                        for vid, (code, text, name) in VIDEOS.items()})
    monkeypatch.setattr(captions, "new_session", fake.session)
    with FakeOpenAI() as llm:
        path = recipe(input={"languages": ["ru", "ja"]}, transcribe={"prefer": "captions"},
                      llm={"base_url": llm.base_url, "model": "fake-model", "backoff_s": 0.01, "max_attempts": 1},
                      normalize={"prompt_file": str(PROMPTS / "normalize.yaml"), "target_chars": 400, "max_chars": 600},
                      generate={"creator": "Саша", "own_words": {
                          "prompt_file": str(PROMPTS / "own_words.yaml"),
                          "curation_prompt_file": str(PROMPTS / "own_words_curation.yaml")}})
        publish_download(path, [(video(vid), None) for vid in VIDEOS])
        for spec in (TRANSCRIBE, NORMALIZE, ANALYZE, FILTER, GENERATE):
            assert run_stage(spec, path) == 0, spec.name
        prompts = {m["content"] for body in llm.bodies for m in body["messages"]}
    run = RunDir.for_config(load_config(path))
    transcripts = {t.id: t for t in read_jsonl(run.stage_dir("transcribe") / "transcripts.jsonl", Transcript)}
    for vid, (code, text, _) in VIDEOS.items():  # the guard dropped nothing: every caption line is kept, verbatim
        t = transcripts[vid]
        assert (t.status, t.source, t.language, t.dropped) == ("success", "youtube_manual", code, {}), vid
        assert t.text == text, vid  # caption lines joined back as written: no space put between Japanese lines
    profiles = {p.id: p for p in read_jsonl(run.stage_dir("analyze") / "profiles.jsonl", Profile)}
    assert 150 < profiles["ruChain0001"].words == len(words(CHAIN)) < 250  # Cyrillic words
    assert profiles["jaWheel0001"].words == sum(not ch.isspace() and ch not in "、。" for ch in WHEEL)  # characters
    assert profiles["ruChain0001"].reading_ease is not None and profiles["jaWheel0001"].reading_ease is None
    assert {p.id: p.language for p in profiles.values()} == {vid: code for vid, (code, _, _) in VIDEOS.items()}
    # only the re-upload is a near-duplicate: two unrelated Russian (or Japanese) videos are not
    [cluster] = read_jsonl(run.stage_dir("filter") / "duplicates.jsonl", DuplicateCluster)
    assert sorted([cluster.representative, *(m.id for m in cluster.members)]) == ["ruChain0001", "ruChainCopy"]
    dropped = list(read_jsonl(run.stage_dir("filter") / "dropped.jsonl", Dropped))
    assert [(d.reason, d.reasons) for d in dropped] == [("near_duplicate", ["near_duplicate"])]
    kept = {k.id: k for k in read_jsonl(run.stage_dir("filter") / "kept.jsonl", Kept)}
    assert set(kept) == {"ruBrakes001", "jaWheel0001", "jaSaddle001", cluster.representative}
    # every prompt asks for the transcript's language: normalize's, own_words' questions and their curation
    assert any("keep it in Russian" in p for p in prompts) and any("keep it in Japanese" in p for p in prompts)
    assert any("Write a question in Russian" in p for p in prompts)
    assert any("Write a question in Japanese" in p for p in prompts)
    assert any("The answer is in Russian" in p for p in prompts) and any("The answer is in Japanese" in p
                                                                        for p in prompts)
    generated = run.stage_dir("generate")
    passages = list(read_jsonl(generated / "passages.jsonl", Passage))
    assert {p.language for p in passages} == {"ru", "ja"}
    assert all(p.text in kept[p.video_id].text for p in passages)  # verbatim slices of the kept text
    assert not any(" " in p.text for p in passages if p.language == "ja")  # no space added into Japanese
    chats = list(read_jsonl(generated / "own_words" / "dataset_messages.jsonl", ChatExample))
    asked = {c.provenance.video_id: c.messages[1]["content"] for c in chats}
    assert asked["ruBrakes001"].startswith("Что нужно знать про") and asked["jaWheel0001"].endswith("は何が大事ですか？")
