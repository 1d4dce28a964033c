"""The evaluate stage after a real (tiny) training run: numbers, report files, and their agreement."""

from __future__ import annotations

import json
import re

from harness import publish_records

from tube2lora_evaluate.cli import SPEC as EVALUATE
from tube2lora_evaluate.style import js_divergence, function_profile, phrase_rate, signature_phrases
from tube2lora_shared.config import load_config
from tube2lora_shared.documents import Split, TrainedAdapter
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.records import ChatExample, Normalized, Provenance
from tube2lora_shared.rundir import RunDir
from tube2lora_train.cli import SPEC as TRAIN

SPEECH = ("Alright, grease monkeys, Toby here, let's get our hands dirty. Here's the thing, the chain is the "
          "hardest working part of your bike. No drama, one drop per roller. Keep the rubber side down, and I'll "
          "see you next ride.")


def test_signature_phrases_and_style_measures():
    import random

    rng = random.Random(4)
    vocabulary = [f"word{i}" for i in range(500)]
    texts = {f"v{i}": "Alright, grease monkeys, Toby here. " + " ".join(rng.choice(vocabulary) for _ in range(80))
             + " Keep the rubber side down, and I'll see you next ride." for i in range(4)}
    phrases = signature_phrases(texts, [3, 4, 5], 2, 10)
    assert any("grease monkeys" in p for p in phrases) and any("rubber side down" in p for p in phrases)
    assert phrase_rate("keep the rubber side down always", ["rubber side down"]) == 16.667  # 1 in 6 words
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
                {"role": "assistant", "content": "Keep the rubber side down, and I'll see you next ride."}],
                provenance=Provenance(generator="talk_as_creator", generator_version="0.1.0", prompt="p", model="m",
                                      video_id=f"vid{v}", chunk_index=c, start=0, end=30, source_sha256="0" * 64)))
    from tube2lora_demo.fake_llm import FakeOpenAI

    with FakeOpenAI(responder=lambda body: '{"winner": "B"}') as server:
        path = recipe(train={"base_model": str(tiny_mistral), "tokenizer": "mistral:v3", "max_steps": 6,
                             "learning_rate": 0.005, "lora_r": 8, "logging_steps": 1, "eval_steps": 3, "eval_share": 0.2,
                             "mix": {"own_words": 0, "talk_as_creator": 1, "monologue": 0}},
                      evaluate={"max_new_tokens": 12, "samples": 2, "judge": True},
                      llm={"base_url": server.base_url, "model": "judge"})
        publish_records(path, "normalize", "normalized.jsonl",
                        [Normalized(id=f"vid{v}", status="success", text=SPEECH) for v in range(5)])
        generated = {"generators": {"talk_as_creator": {"attempted": 17, "accepted": 10,
                                                        "rejected": {"too_short": 2, "copy_share": 5}}}}
        publish_records(path, "generate", "talk_as_creator/dataset_messages.jsonl", chats,
                        files={"dataset_manifest.json": json.dumps(generated)})
        assert run_stage(TRAIN, path) == 0
        assert run_stage(EVALUATE, path) == 0
        stage = RunDir.for_config(load_config(path)).stage_dir("evaluate")
        evaluation = json.loads((stage / "evaluation.json").read_text())
        split = json.loads((stage.parent / "train" / "split.json").read_text())
        assert evaluation["eval_videos"] == split["eval"] and evaluation["eval_chats"] == 2
        chats_ppl = evaluation["perplexity"]["chats"]
        assert chats_ppl["base"] > 0 and chats_ppl["adapter"] > 0 and chats_ppl["adapter"] != chats_ppl["base"]
        assert evaluation["perplexity"]["transcripts"]["base"] > 0
        assert evaluation["improved"]["chat_perplexity"] == (chats_ppl["adapter"] < chats_ppl["base"])
        assert len(evaluation["samples"]) == 2 and evaluation["samples"][0]["prompt"] == "And after that?"
        assert "rubber side down" in " ".join(evaluation["signature_phrases"])
        assert evaluation["judge"]["comparisons"] == 4 and evaluation["judge"]["ties"] == 2  # always "B": pure bias
        md = (stage / "report.md").read_text()
        assert f"| {chats_ppl['base']} | {chats_ppl['adapter']} |" in md and "LLM judge" in md
        assert "| talk_as_creator | 17 | 10 | copy_share: 5, too_short: 2 |" in md  # rejections, most first
        assert "trained for 6 steps on 8 conversations (2 held out" in md
        page = (stage / "report.html").read_text()
        assert page.startswith("<!doctype html>") and "<svg" in page and "polyline" in page
        assert "<td>copy_share: 5, too_short: 2</td>" in page
        shown = re.findall(r">(\d+(?:\.\d+)?)</text>", page)
        assert f"{chats_ppl['base']:g}" in shown and f"{chats_ppl['adapter']:g}" in shown


def test_report_renders_in_a_headless_browser(tmp_path):
    import shutil
    import subprocess

    from tube2lora_evaluate.report import render

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert browser, "a headless browser is needed for this test: apt-get install -y chromium"
    evaluation = {
        "creator": "Toby Fenwick", "base_model": "tiny", "eval_videos": ["vid3"], "eval_chats": 2,
        "perplexity": {"chats": {"base": 412.5, "adapter": 97.25}, "transcripts": {"base": 300.0, "adapter": 150.5}},
        "style": {side: {"function_word_js": js, "mattr": 0.7, "signature_phrases_per_100_words": rate,
                         "sentence_words": {"mean": 11.0, "std": 3.0}}
                  for side, js, rate in (("reference", 0.0, 4.5), ("base", 0.41, 0.0), ("adapter", 0.12, 2.25))},
        "signature_phrases": ["rubber side down"], "samples": [
            {"prompt": "And after that?", "reference": "Keep the rubber side down.", "base": "Hello.", "adapter": "No drama."}],
    }
    md, page = render(evaluation, {"train/loss": [(1, 2.0), (2, 1.5), (3, 1.2)], "eval/loss": [(3, 1.4)]})
    report = tmp_path / "report.html"
    report.write_text(page)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", report.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert "Does the adapter sound like Toby Fenwick?" in dom
    for number in ("412.5", "97.25", "150.5", "0.12", "2.25"):  # the numbers of evaluation.json, as drawn
        assert f">{number}</text>" in dom
    assert dom.count("<rect") == 9 and "<polyline" in dom
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1000,1400", report.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000  # a real page was painted, not an empty canvas
    assert "| held-out chats, assistant tokens | 412.5 | 97.25 |" in md


def test_llm_judge_swaps_positions(tmp_path):
    import logging
    from collections import Counter

    from tube2lora_demo.fake_llm import FakeOpenAI

    from tube2lora_evaluate.judge import judge
    from tube2lora_shared.cache import Cache
    from tube2lora_shared.config import LLMConfig
    from tube2lora_shared.llm import LLMClient

    samples = [{"prompt": f"Q{i}?", "reference": "", "base": "A generic answer.", "adapter": "No drama, slow is smooth."}
               for i in range(4)]

    def verdict(pick):
        return lambda body: json.dumps({"winner": pick(body["messages"][-1]["content"])})

    def prefers_the_creator(prompt):
        a = prompt.split("Answer A:")[1].split("Answer B:")[0]
        return "A" if "drama" in a else "B"

    for responder, expected in ((verdict(prefers_the_creator), 1.0), (verdict(lambda prompt: "A"), 0.5)):
        with FakeOpenAI(responder=responder) as server:
            client = LLMClient(LLMConfig(base_url=server.base_url, model="judge"), None, Cache(tmp_path / str(expected)),
                               logging.getLogger("t"), Counter())
            result = judge(client, "Toby", "No drama.", samples)
            assert result["comparisons"] == 8 and server.total == 8
            assert result["adapter_win_rate"] == expected
    assert result["ties"] == 4  # a judge that always says "A" is pure position bias: every pair ties


def test_estimate_asks_nothing_and_loads_no_model(recipe, capfd):
    from fakes.openai_server import FakeOpenAI

    chats = [ChatExample(messages=[{"role": "user", "content": f"What about the chain, question {c}?"},
                                   {"role": "assistant", "content": "One drop per roller. No drama."}],
                         provenance=Provenance(generator="talk_as_creator", generator_version="0.1.0", prompt="p",
                                               model="m", video_id=f"vid{v}", chunk_index=c, start=0, end=30,
                                               source_sha256="0" * 64))
             for v in range(3) for c in range(3)]
    with FakeOpenAI(responder=lambda body: '{"winner": "B"}') as server:
        path = recipe(train={"base_model": "/nonexistent/base-model", "tokenizer": "mistral:v3"},
                      evaluate={"judge": True, "judge_samples": 4}, llm={"base_url": server.base_url, "model": "judge"})
        publish_records(path, "normalize", "normalized.jsonl",
                        [Normalized(id=f"vid{v}", status="success", text=SPEECH) for v in range(3)])
        publish_records(path, "generate", "talk_as_creator/dataset_messages.jsonl", chats,
                        files={"dataset_manifest.json": json.dumps({"creator": "Toby"})})
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
        assert server.total == 0 and "evaluate estimate: 8 LLM call(s) to make" in err  # 4 of 6 held-out chats, 2 orders
        stage = RunDir.for_config(load_config(path)).stage_dir("evaluate")
        assert not stage.exists()
        assert run_stage(EVALUATE, path) == 1  # for real, the base model cannot load: the estimate never tried
        assert "/nonexistent/base-model" in capfd.readouterr().err and server.total == 0
