"""The evaluate stage after a real (tiny) training run: numbers, report files, and their agreement."""

from __future__ import annotations

import json
import random
import re

from harness import publish_records

from tube2lora_evaluate.cli import SPEC as EVALUATE
from tube2lora_evaluate.style import js_divergence, function_profile, phrase_rate, signature_phrases
from tube2lora_evaluate.summary import lines as summary_lines
from tube2lora_shared.config import load_config
from tube2lora_shared.documents import Split, TrainedAdapter
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import ChatExample, Passage, Provenance
from tube2lora_shared.rundir import RunDir
from tube2lora_train.cli import SPEC as TRAIN

SPEECH = ("Alright, grease monkeys, Toby here, let's get our hands dirty. Here's the thing, the chain is the "
          "hardest working part of your bike. No drama, one drop per roller. Keep the rubber side down, and I'll "
          "see you next ride.")
PERSONA = "You are Toby Fenwick, in your own words."
SIGN_OFF = "Keep the rubber side down, and I'll see you next ride."  # 11 words, in every passage


def passages(videos: int, per_video: int = 3) -> list[Passage]:
    """Each passage: its 5-word opening, 30 words drawn from 40 shared ones, its id again, the 11-word sign-off
    (47 words); only the sign-off makes an 8-word run that another passage has."""
    rng = random.Random(7)
    vocabulary = [f"w{k}" for k in range(40)]
    found = []
    for v in range(videos):
        for i in range(per_video):
            text = (f"Here's the thing about part{v}x{i}: " + " ".join(rng.choice(vocabulary) for _ in range(30))
                    + f", part{v}x{i}. {SIGN_OFF}")
            found.append(Passage(id=f"vid{v}:{i}", video_id=f"vid{v}", index=i, text=text, words=47,
                                 source_sha256="0" * 64))
    return found


def provenance(generator: str, video: str, index: int) -> Provenance:
    return Provenance(generator=generator, generator_version="0.1.0", prompt="p", model="m", video_id=video,
                      chunk_index=index, source_sha256="0" * 64)


def own_words(found: list[Passage]) -> list[ChatExample]:
    return [ChatExample(messages=[{"role": "system", "content": PERSONA},
                                  {"role": "user", "content": f"What do you think about part {p.id}?"},
                                  {"role": "assistant", "content": p.text}],
                        provenance=provenance("own_words", p.video_id, p.index)) for p in found]


def publish_generate(path, found: list[Passage], chats: list[ChatExample], manifest: dict) -> None:
    """generate's directory as the interface has it: passages, own_words, talk_as_creator, the manifest."""
    lines = lambda records: "".join(r.model_dump_json() + "\n" for r in records)  # noqa: E731
    publish_records(path, "generate", "passages.jsonl", found, files={
        "own_words/dataset_messages.jsonl": lines(own_words(found)),
        "talk_as_creator/dataset_messages.jsonl": lines(chats), "dataset_manifest.json": json.dumps(manifest)})


def test_signature_phrases_and_style_measures():
    import random

    rng = random.Random(4)
    vocabulary = [f"word{i}" for i in range(500)]
    texts = {f"v{i}": "Alright, grease monkeys, Toby here. " + " ".join(rng.choice(vocabulary) for _ in range(80))
             + " Keep the rubber side down, and I'll see you next ride." for i in range(4)}
    phrases = signature_phrases(texts, [3, 4, 5], 2, 10)
    assert any("grease monkeys" in p for p in phrases) and any("rubber side down" in p for p in phrases)
    assert phrase_rate("keep the rubber side down always", ["rubber side down"]) == 16.667  # 1 in 6 words
    # phrases overlapping in the text are one saying; a phrase counts as whole words only
    greeting = "all right free smunkies toby here let's get our hands dirty"  # 11 words
    assert phrase_rate(greeting, ["smunkies toby here", "toby here let's get our", "let's get our hands dirty"]) == 9.091
    assert phrase_rate(greeting + " keep the rubber side down", ["toby here", "keep the rubber", "rubber side down"]) \
        == round(100 * 2 / 16, 3)
    assert phrase_rate("so the chains rattle", ["so the chain"]) == 0
    assert js_divergence(function_profile(SPEECH), function_profile(SPEECH)) == 0
    assert js_divergence(function_profile("the the the"), function_profile("you you you")) == 1.0


def test_evaluate_reports_base_against_adapter(recipe, tiny_mistral):
    chats = []
    for v in range(5):
        for c in range(2):
            chats.append(ChatExample(messages=[
                {"role": "system", "content": "You are Toby Fenwick."},
                {"role": "user", "content": f"What about the chain, question {c}?"},
                {"role": "assistant", "content": "Here's the thing, grease monkeys: one drop per roller. No drama."},
                {"role": "user", "content": "And after that?"},
                {"role": "assistant", "content": SIGN_OFF}], provenance=provenance("talk_as_creator", f"vid{v}", c)))
    found = passages(5)
    from tube2lora_demo.fake_llm import FakeOpenAI

    def finds_the_sign_off(body):  # a judge that knows the creator by their sign-off
        a = body["messages"][-1]["content"].split("Answer A:")[1].split("Answer B:")[0]
        return json.dumps({"real": "A" if "rubber side down" in a else "B"})

    with FakeOpenAI(responder=finds_the_sign_off) as server:
        path = recipe(train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "max_steps": 6,
                             "learning_rate": 0.005, "lora_r": 8, "logging_steps": 1, "eval_steps": 3, "eval_share": 0.2,
                             "mix": {"own_words": 0, "talk_as_creator": 1, "monologue": 0}},
                      evaluate={"max_new_tokens": 400, "samples": 3, "judge": True},
                      llm={"base_url": server.base_url, "model": "judge"})
        generated = {"creator": "Toby Fenwick", "persona": PERSONA, "videos": [f"vid{v}" for v in range(5)],
                     "generators": {"own_words": {"attempted": 16, "accepted": 15, "rejected": {"leaks_answer": 1}},
                                    "talk_as_creator": {"attempted": 17, "accepted": 10,
                                                        "rejected": {"too_short": 2, "copy_share": 5}}}}
        publish_generate(path, found, chats, generated)
        assert run_stage(TRAIN, path) == 0
        assert run_stage(EVALUATE, path) == 0
        run = RunDir.for_config(load_config(path))
        stage = run.stage_dir("evaluate")
        evaluation = json.loads((stage / "evaluation.json").read_text())
        split = json.loads((stage.parent / "train" / "split.json").read_text())
        assert evaluation["eval_videos"] == split["eval"] and len(split["eval"]) == 1
        held_out = [p for p in found if p.video_id == split["eval"][0]]
        assert evaluation["eval_passages"] == 3 and evaluation["eval_questions"] == 3 and evaluation["eval_chats"] == 2

        ppl = evaluation["perplexity"]
        for text in ("transcripts", "answers", "chats"):  # (a): the real answers given the question, base and adapter
            assert ppl[text]["base"] > 0 and ppl[text]["adapter"] > 0 and ppl[text]["adapter"] != ppl[text]["base"]
        assert evaluation["improved"]["answer_perplexity"] == (ppl["answers"]["adapter"] < ppl["answers"]["base"])

        voice = evaluation["voice"]
        assert voice["answers"] == 3 and voice["identical"]["of"] == 3  # (e)
        assert voice["phrases"]["creator_rate_from"] == "held-out answers" and voice["phrases"]["creator_rate"] > 0
        assert voice["phrases"]["adapter"]["flag"] in ("ok", "caricature", "too little")  # (b)
        assert voice["copied"]["creator"] == round(11 / 47, 4)  # (c): only the sign-off was said in training videos
        assert 0 <= voice["copied"]["adapter"] <= 1
        assert voice["delta"]["base"] > 0 and voice["delta"]["adapter"] > 0  # (d)
        assert voice["repetition"]["creator"] == {"mean": 0.0, "looping": 0, "example": None}  # (f)
        assert set(voice["repetition"]["adapter"]) == {"mean", "looping", "example"}
        verdict = evaluation["judge"]  # (g): 3 questions, real against adapter and against base, both orders
        assert server.total == 12 and verdict["adapter"]["comparisons"] == 6
        assert verdict["adapter"]["real_picked_rate"] == 1.0 and verdict["adapter"]["told_apart"] == 3

        from tube2lora_models.chat import load_encoder

        encoder = load_encoder("mistral:v3", str(tiny_mistral))
        tokens = lambda text: len(encoder.encode_text(text)[0])  # noqa: E731
        for sample in evaluation["samples"]:  # answer_length real: as long as the creator's answer, not 400 tokens
            assert tokens(sample["adapter"]) <= tokens(sample["reference"]) + 8 < 400 // 2
        sample = evaluation["samples"][0]
        assert len(evaluation["samples"]) == 3 and sample["reference"] == held_out[0].text
        assert sample["prompt"] == f"What do you think about part {held_out[0].id}?"
        assert "rubber side down" in " ".join(evaluation["signature_phrases"])
        md = (stage / "report.md").read_text()
        t = ppl["transcripts"]
        assert (f"| held-out transcripts (the creator's passages) | {t['base']:g} | {t['adapter']:g} | "
                f"{t['adapter'] / t['base']:.2f}x |") in md
        assert f"**Creator (the real held-out passage):** {held_out[0].text}" in md
        assert f"adapter answers are word for word the base's" in md and "LLM judge" in md
        assert "| talk_as_creator | 17 | 10 | copy_share: 5, too_short: 2 |" in md  # rejections, most first
        metrics = json.loads((stage.parent / "train" / "training_metrics.json").read_text())
        assert f"trained for {metrics['steps']} steps on {metrics['train_examples']} conversations" in md
        page = (stage / "report.html").read_text()
        assert page.startswith("<!doctype html>") and "<svg" in page and "polyline" in page
        assert "<td>copy_share: 5, too_short: 2</td>" in page
        assert f"part{held_out[0].video_id[3:]}x0" in page and "creator (the real held-out passage)" in page
        shown = re.findall(r">(\d+(?:\.\d+)?)</text>", page)
        a = ppl["answers"]
        assert f"{a['base']:g}" in shown and f"{a['adapter']:g}" in shown

        said = summary_lines(run, read_manifest(stage))
        assert (f"perplexity held-out transcripts: base {t['base']:.4g} -> adapter {t['adapter']:.4g} "
                f"({t['adapter'] / t['base']:.2f}x)") in said
        assert any(line.startswith("perplexity held-out real answers: base ") for line in said)
        assert any(re.match(r"voice +signature phrases .*x the creator's \((ok|caricature|too little)\); "
                            r"\d of 3 adapter answers identical to the base's", line) for line in said)


def test_report_renders_in_a_headless_browser(tmp_path):
    import shutil
    import subprocess

    from tube2lora_evaluate.report import render

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert browser, "a headless browser is needed for this test: apt-get install -y chromium"
    repetition = {"mean": 0.0, "looping": 0, "example": None}
    evaluation = {
        "creator": "Toby Fenwick", "base_model": "tiny", "eval_videos": ["vid3"], "eval_passages": 4,
        "eval_questions": 2, "eval_chats": 2,
        "perplexity": {"transcripts": {"base": 300.0, "adapter": 150.5}, "answers": {"base": 88.0, "adapter": 44.0},
                       "chats": {"base": 412.5, "adapter": 97.25}},
        "voice": {"answers": 2, "identical": {"count": 2, "of": 2},
                  "phrases": {"creator_rate": 4.5, "creator_rate_from": "held-out answers",
                              "base": {"rate": 0.0, "ratio": 0.0, "flag": "too little"},
                              "adapter": {"rate": 11.25, "ratio": 2.5, "flag": "caricature"}},
                  "copied": {"run_words": 8, "creator": 0.05, "base": 0.0, "adapter": 0.35},
                  "delta": {"words": 50, "base": 1.42, "adapter": 0.87},
                  "repetition": {"creator": repetition, "base": {"mean": 0.5, "looping": 2,
                                                                 "example": "\"I'm glad to hear that.\" x3"},
                                 "adapter": repetition}},
        "style": {side: {"function_word_js": js, "mattr": 0.7, "signature_phrases_per_100_words": rate,
                         "sentence_words": {"mean": 11.0, "std": 3.0}}
                  for side, js, rate in (("reference", 0.0, 4.5), ("base", 0.41, 0.0), ("adapter", 0.12, 2.25))},
        "judge": {side: {"comparisons": 4, "failed": 0, "real_picked": n, "real_picked_rate": n / 4,
                         "told_apart": n // 2, "fooled": 0, "unsure": 2 - n // 2}
                  for side, n in (("adapter", 2), ("base", 4))},
        "signature_phrases": ["rubber side down"], "samples": [
            {"prompt": "What about the chain?", "reference": "Keep the rubber side down.", "base": "Hello.",
             "adapter": "No drama."}],
    }
    md, page = render(evaluation, {"train/loss": [(1, 2.0), (2, 1.5), (3, 1.2)], "eval/loss": [(3, 1.4)]})
    report = tmp_path / "report.html"
    report.write_text(page)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", report.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert "Does the adapter sound like Toby Fenwick?" in dom
    for number in ("412.5", "97.25", "150.5", "44", "2.5x", "0.87", "0.35"):  # evaluation.json's numbers, as drawn
        assert f">{number}</text>" in dom
    assert dom.count("<rect") == 13 and "<polyline" in dom  # 3 perplexities x 2, phrase ratio 2, Delta 2, copied 3
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1000,1400", report.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000  # a real page was painted, not an empty canvas
    assert "| held-out LLM-written chats, assistant tokens | 412.5 | 97.25 | 0.24x |" in md
    assert "| the creator's real answers to held-out questions | 88 | 44 | 0.50x |" in md
    assert "| 4.5 (in the held-out answers) | 0 (0x, too little) | 11.25 (2.5x, caricature) |" in md
    assert "2 of 2 adapter answers are word for word the base's. The adapter changed no answer" in md
    assert "The base loops in 2 of 2 answers, e.g. \"I'm glad to hear that.\" x3." in md
    assert "The adapter's signature-phrase rate is 2.5x the creator's: caricature." in md
    assert "picked the creator's real answer in 50% of comparisons against the adapter" in md
    assert "and in 100% against the base" in md
    assert "**Creator (the real held-out passage):** Keep the rubber side down." in md


def test_llm_judge_asks_which_is_the_real_creator_in_both_orders(tmp_path):
    import logging
    from collections import Counter

    from tube2lora_demo.fake_llm import FakeOpenAI

    from tube2lora_evaluate.judge import judge
    from tube2lora_shared.cache import Cache
    from tube2lora_shared.config import LLMConfig
    from tube2lora_shared.llm import LLMClient

    samples = [{"prompt": f"Q{i}?", "reference": "No drama, one drop per roller.", "base": "A generic answer.",
                "adapter": "Slow is smooth."} for i in range(4)]

    def picks(word):  # a judge that takes the answer holding `word` for the real one
        def respond(body):
            a = body["messages"][-1]["content"].split("Answer A:")[1].split("Answer B:")[0]
            return json.dumps({"real": "A" if word in a else "B"})
        return respond

    results = {}
    for name, responder in (("knows", picks("drama")), ("fooled", picks("smooth")),
                            ("biased", lambda body: '{"real": "A"}')):
        with FakeOpenAI(responder=responder) as server:
            client = LLMClient(LLMConfig(base_url=server.base_url, model="judge"), None, Cache(tmp_path / name),
                               logging.getLogger("t"), Counter())
            results[name] = judge(client, "Toby", "No drama.", samples)
            assert server.total == 16  # 4 samples, adapter and base, both orders
    knows, fooled, biased = results["knows"], results["fooled"], results["biased"]
    assert knows["adapter"] == {"comparisons": 8, "failed": 0, "real_picked": 8, "real_picked_rate": 1.0,
                                "told_apart": 4, "fooled": 0, "unsure": 0}
    assert fooled["adapter"]["real_picked_rate"] == 0.0 and fooled["adapter"]["fooled"] == 4
    assert fooled["base"]["real_picked_rate"] == 0.5  # neither holds "smooth": always "B", position bias
    assert biased["adapter"]["real_picked_rate"] == 0.5 and biased["adapter"]["unsure"] == 4  # pure position bias
    with FakeOpenAI(responder=picks("drama")) as server:
        client = LLMClient(LLMConfig(base_url=server.base_url, model="judge"), None, Cache(tmp_path / "ru"),
                           logging.getLogger("t"), Counter())
        judge(client, "Саша", "Без драмы.", samples[:1], "ru")
        assert all(body["messages"][-1]["content"].startswith("Саша speaks Russian.") for body in server.bodies)


def test_estimate_asks_nothing_and_loads_no_model(recipe, capfd):
    from tube2lora_demo.fake_llm import FakeOpenAI

    with FakeOpenAI(responder=lambda body: '{"real": "B"}') as server:
        path = recipe(train={"base_model": "/nonexistent/base-model", "tokenizer": "mistral:v3"},
                      evaluate={"judge": True, "judge_samples": 4}, llm={"base_url": server.base_url, "model": "judge"})
        publish_generate(path, passages(3), [], {"creator": "Toby"})
        trained = TrainedAdapter(base_model="/nonexistent/base-model", base_model_path="/nonexistent/base-model",
                                 tokenizer="mistral:v3", chat_format="mistral", adapter_path="artifacts/train/adapter",
                                 tensorboard_path="artifacts/train/tensorboard", max_length=512,
                                 lora_target_modules=["q_proj"])
        split = Split(train=["vid0"], eval=["vid1", "vid2"], train_examples=3, eval_examples=6)
        publish_records(path, "train", "placeholder.jsonl", [], files={
            Split.FILE: split.model_dump_json(), TrainedAdapter.FILE: trained.model_dump_json(),
            "training_metrics.json": json.dumps({"steps": 1})})
        capfd.readouterr()
        assert run_stage(EVALUATE, path, estimate=True) == 0
        err = capfd.readouterr().err
        # 4 of the 6 held-out questions; the real answer against the adapter's and the base's, in both orders
        assert server.total == 0 and "evaluate estimate: 16 LLM call(s) to make" in err
        stage = RunDir.for_config(load_config(path)).stage_dir("evaluate")
        assert not stage.exists()
        assert run_stage(EVALUATE, path) == 1  # for real, the base model cannot load: the estimate never tried
        assert "/nonexistent/base-model" in capfd.readouterr().err and server.total == 0


def test_evaluate_fails_without_held_out_passages(recipe, capfd):
    path = recipe(train={"base_model": "/nonexistent/base-model", "tokenizer": "mistral:v3"})
    publish_generate(path, passages(1), [], {"creator": "Toby"})  # passages of vid0 only
    trained = TrainedAdapter(base_model="x", base_model_path="x", tokenizer="mistral:v3", chat_format="mistral",
                             adapter_path="a", tensorboard_path="t", max_length=512, lora_target_modules=["q_proj"])
    publish_records(path, "train", "placeholder.jsonl", [], files={
        Split.FILE: Split(train=["vid0"], eval=["vid1"], train_examples=3, eval_examples=0).model_dump_json(),
        TrainedAdapter.FILE: trained.model_dump_json(), "training_metrics.json": json.dumps({"steps": 1})})
    capfd.readouterr()
    assert run_stage(EVALUATE, path) == 1
    err = capfd.readouterr().err
    assert "has no passage of the held-out videos (vid1); re-run generate, then train, with --force" in err


def test_report_without_held_out_questions_says_what_is_missing():
    from tube2lora_evaluate.report import render

    evaluation = {"creator": "Toby", "base_model": "tiny", "eval_videos": ["vid1"], "eval_passages": 3,
                  "eval_questions": 0, "perplexity": {"transcripts": {"base": 80.0, "adapter": 60.0},
                                                      "answers": {"base": None, "adapter": None}},
                  "voice": {}, "style": {}, "signature_phrases": [], "samples": []}
    md, page = render(evaluation, {})
    assert "| held-out transcripts (the creator's passages) | 80 | 60 | 0.75x |" in md
    assert "| the creator's real answers to held-out questions | n/a | n/a | n/a |" in md
    assert "No held-out own_words question" in md and "No held-out own_words question" in page


def test_the_estimate_assumes_answers_as_long_as_evaluate_lets_them_run():
    from tube2lora_evaluate.config import EvaluateConfig
    from tube2lora_evaluate.estimate import assumed_answer

    real = "Here's the thing about chains: oil them, wipe them, and oil them again."  # 13 words
    assert assumed_answer(EvaluateConfig(), real) == " ".join(["word"] * 13)  # answer_length real
    assert assumed_answer(EvaluateConfig(max_new_tokens=9), real) == " ".join(["word"] * 9)
    assert assumed_answer(EvaluateConfig(answer_length="fixed", max_new_tokens=20), real) == " ".join(["word"] * 20)
