"""What the LLM client does when the endpoint says no, cuts an answer short, or the money runs out: against the
loopback fake OpenAI-compatible server (its hosted-API switches), through the real openai SDK, and through a
real stage (normalize) for the refusal that used to pass silently."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest
from harness import REPO, publish_records

from tube2lora_demo.fake_llm import FakeOpenAI
from tube2lora_normalize.cli import SPEC as NORMALIZE
from tube2lora_shared.budget import prompt_tokens, run_spent, worst_case_cost
from tube2lora_shared.cache import Cache
from tube2lora_shared.config import LLMConfig, Prices, load_config
from tube2lora_shared.errors import UsageError
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.llm import BudgetExceeded, LLMClient, LLMError, LLMRefused, Question
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import Segment, Transcript
from tube2lora_shared.rundir import RunDir

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
          "additionalProperties": False}
PRICES = {"prompt_per_million": 1000.0, "completion_per_million": 4000.0, "currency": "EUR"}


def parse(text: str) -> str:
    try:
        return json.loads(text)["text"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"not the JSON object asked for ({exc})") from None


def client(tmp_path, server, usage=None, spent_before=0.0, **cfg) -> LLMClient:
    cfg.setdefault("model", "fake-model")
    cfg.setdefault("backoff_s", 0.01)
    config = LLMConfig(base_url=server.base_url, **cfg)
    return LLMClient(config, None, Cache(tmp_path / "cache"), logging.getLogger("test"),
                     usage if usage is not None else Counter(), stage="normalize", spent_before=spent_before)


def question(text: str, max_tokens: int = 1024) -> Question:
    return Question([{"role": "user", "content": f"<transcript>{text}</transcript>"}], parse, schema=SCHEMA,
                    max_tokens=max_tokens)


def ask_all(llm: LLMClient, texts: list[str], max_tokens: int = 1024):
    return llm.ask_all([question(text, max_tokens) for text in texts], "test")


# --- refusals that are the caller's fault ---

def test_a_refused_json_schema_stops_after_three_and_names_the_flavour(tmp_path):
    with FakeOpenAI(refuse_json_schema=True) as server:
        with pytest.raises(LLMRefused) as refused:
            ask_all(client(tmp_path, server, concurrency=1), [f"um chunk {i}" for i in range(40)])
        assert server.requests == {"400": 3}  # not 40 refusals, one per chunk
        message = str(refused.value)
        assert message.startswith(f"the LLM endpoint {server.base_url} refused 3 requests in a row with HTTP 400: "
                                  "Invalid schema for response_format 'answer'")
        assert "'prefixItems'" in message and "llm.structured_output: json_schema" in message
        assert "set llm.structured_output to json_object" in message and " or none " in message
        assert "finished answers are cached" in message and "\n" not in message
        # the alternative it names works against the same endpoint
        answers = ask_all(client(tmp_path, server, structured_output="json_object"), ["um chunk 1"])
        assert answers[0].value == "chunk 1"


def test_concurrent_refusals_stop_the_rest_unasked(tmp_path):
    with FakeOpenAI(refuse_json_schema=True, latency_s=0.05) as server:
        with pytest.raises(LLMRefused):
            ask_all(client(tmp_path, server, concurrency=4), [f"chunk {i}" for i in range(100)])
        assert 3 <= server.total <= 4 + 2  # the ones in flight when the third refusal came back, no more


def test_a_wrong_key_names_its_variable_and_stays_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("T2L_TEST_KEY", "sk-wrong-key-123")
    with FakeOpenAI(api_key="sk-right-key-456") as server:
        with pytest.raises(LLMRefused) as refused:
            ask_all(client(tmp_path, server, api_key_env="T2L_TEST_KEY", concurrency=1), ["a", "b", "c", "d"])
        assert server.requests == {"401": 3}
        message = str(refused.value)
        assert "HTTP 401: Incorrect API key provided" in message
        assert "check the API key in the environment variable T2L_TEST_KEY (named by llm.api_key_env)" in message
        assert "sk-wrong-key-123" not in message
        monkeypatch.setenv("T2L_TEST_KEY", "sk-right-key-456")
        assert ask_all(client(tmp_path, server, api_key_env="T2L_TEST_KEY"), ["um a"])[0].value == "a"


def test_an_unknown_model_names_llm_model(tmp_path):
    with FakeOpenAI(models=("real-model",)) as server:
        with pytest.raises(LLMRefused) as refused:
            ask_all(client(tmp_path, server, concurrency=1), ["a", "b", "c", "d"])
        message = str(refused.value)
        assert "HTTP 404: The model `fake-model` does not exist" in message
        assert "check llm.model (or the stage's own model key): 'fake-model' is not a model" in message


def test_a_spent_quota_is_not_waited_out(tmp_path, monkeypatch):
    monkeypatch.setenv("T2L_TEST_KEY", "sk-test-key-789")
    usage = Counter()
    with FakeOpenAI() as server:
        server.forced = ["quota"] * 10
        with pytest.raises(LLMRefused) as refused:  # a 429 like any other would be retried with backoff, item by item
            ask_all(client(tmp_path, server, usage, api_key_env="T2L_TEST_KEY", concurrency=1, backoff_s=30),
                    [f"um {i}" for i in range(10)])
        assert server.total == 3 and usage["retries"] == 0
        assert "HTTP 402: You exceeded your current quota" in str(refused.value)
        assert "the account behind the key in T2L_TEST_KEY has no credit left" in str(refused.value)


def test_context_length_errors_are_about_their_item_and_never_stop(tmp_path):
    with FakeOpenAI() as server:
        server.forced = ["context"] * 5
        answers = ask_all(client(tmp_path, server, concurrency=1), [f"um {i}" for i in range(7)])
        assert [a.reason for a in answers[:5]] == ["http_400"] * 5 and [a.value for a in answers[5:]] == ["5", "6"]


def test_refusals_apart_do_not_stop(tmp_path):
    with FakeOpenAI() as server:
        server.forced = ["400", "400", "ok", "400", "400", "ok", "400"]
        answers = ask_all(client(tmp_path, server, concurrency=1), [f"um {i}" for i in range(8)])
        assert [a.reason if isinstance(a, LLMError) else "ok" for a in answers] == \
            ["http_400", "http_400", "ok", "http_400", "http_400", "ok", "http_400", "ok"]
        server.forced = ["400"] * 3
        with pytest.raises(LLMRefused, match="HTTP 400: Invalid request; the requests ask for structured output"):
            ask_all(client(tmp_path, server, concurrency=1), [f"uh {i}" for i in range(8)])


def test_the_judge_does_not_swallow_a_refusal(tmp_path):
    from tube2lora_evaluate.judge import judge

    samples = [{"prompt": f"q{i}", "reference": "real words", "base": "base words", "adapter": "adapter words"}
               for i in range(5)]
    with FakeOpenAI(refuse_json_schema=True) as server:
        with pytest.raises(LLMRefused, match="llm.structured_output: json_schema"):
            judge(client(tmp_path, server, concurrency=1), "Toby", "how Toby talks", samples, "en")
        assert server.total == 3


def transcripts(n: int = 3, segments: int = 12) -> list[Transcript]:
    return [Transcript(id=f"vid{v}", title=f"Video {v}", channel="Toby Fenwick", status="success", source="whisper",
                       language="en", segments=[Segment(start=i * 5.0, end=i * 5.0 + 4.5,
                                                        text=f"Um so video {v} part {i}, uh, the chain needs lube.")
                                                for i in range(segments)]) for v in range(n)]


def test_normalize_fails_instead_of_keeping_every_chunk_as_spoken(recipe):
    with FakeOpenAI(refuse_json_schema=True) as server:
        path = recipe(llm={"base_url": server.base_url, "model": "fake-model", "backoff_s": 0.01, "concurrency": 2},
                      normalize={"prompt_file": str(REPO / "configs" / "prompts" / "normalize.yaml"),
                                 "target_chars": 250, "max_chars": 400})
        publish_records(path, "transcribe", "transcripts.jsonl", transcripts())
        assert run_stage(NORMALIZE, path) == 1
        run = RunDir.for_config(load_config(path))
        assert read_manifest(run.stage_dir("normalize")) is None  # no manifest: Make does not go on
        error = run.read_status()["stages"]["normalize"]["last_error"]
        assert "refused 3 requests in a row with HTTP 400" in error and "llm.structured_output: json_schema" in error
        assert error in run.log_file.read_text()
        assert server.total <= 2 + 2  # the chunks (18 of them) were not asked one by one


# --- answers cut at max_tokens ---

def test_a_cut_answer_is_reasked_with_more_room_and_the_whole_one_cached(tmp_path):
    usage = Counter()
    with FakeOpenAI() as server:
        server.forced = ["length"]
        [answer] = ask_all(client(tmp_path, server, usage), ["um the whole answer"], max_tokens=300)
        assert answer.value == "the whole answer" and not answer.cached
        assert [b["max_tokens"] for b in server.bodies] == [300, 600]
        assert usage["reasked_longer"] == 1 and usage["truncated"] == 0 and usage["reasks"] == 0
        [again] = ask_all(client(tmp_path, server), ["um the whole answer"], max_tokens=300)
        assert again.cached and again.value == "the whole answer" and server.total == 2


def test_a_cut_that_stays_cut_fails_truncated_and_is_not_cached(tmp_path):
    usage = Counter()
    text = "a rather long chunk of speech " * 4  # about 30 tokens as JSON, more than twice 10
    with FakeOpenAI(honour_max_tokens=True) as server:
        [error] = ask_all(client(tmp_path, server, usage), [text], max_tokens=10)
        assert isinstance(error, LLMError) and error.reason == "truncated"
        assert str(error) == ("the answer was cut at max_tokens=10 (finish_reason length) and cut again with "
                              "max_tokens=20; raise llm.reask_max_tokens to give it more room; not cached, a later "
                              "run asks again")
        assert usage["reasked_longer"] == 1 and usage["truncated"] == 1 and server.total == 2
        [error] = ask_all(client(tmp_path, server), [text], max_tokens=10)  # not cached: asked again
        assert error.reason == "truncated" and server.total == 4
        # a ceiling at the question's own max_tokens leaves no room: cut once, failed, one request
        [error] = ask_all(client(tmp_path, server, reask_max_tokens=10), [text], max_tokens=10)
        assert "llm.reask_max_tokens (10) leaves no more room" in str(error) and server.total == 5
        # enough room on the re-ask: the answer is whole and cached
        [answer] = ask_all(client(tmp_path, server), ["twenty characters.."], max_tokens=6)
        assert answer.value == "twenty characters.." and [b["max_tokens"] for b in server.bodies[-2:]] == [6, 12]


# --- llm.budget ---

def test_a_budget_needs_prices():
    from tube2lora_shared.config import validate_section

    with pytest.raises(UsageError, match=r"^llm.budget: needs llm.prices .* add the endpoint's prices or remove "
                                         r"llm.budget$"):
        validate_section("llm", {"budget": 5}, LLMConfig)
    assert validate_section("llm", {"budget": 5, "prices": PRICES}, LLMConfig).prices.currency == "EUR"


def test_worst_case_cost_counts_the_prompt_and_all_of_max_tokens():
    request = {"messages": [{"role": "user", "content": "hello world " * 50}], "max_tokens": 1000}
    tokens = prompt_tokens(request)
    assert 100 <= tokens <= 120  # cl100k: "hello world " is two tokens
    assert worst_case_cost(request, Prices(**PRICES)) == pytest.approx((tokens * 1000 + 1000 * 4000) / 1e6)


def test_a_budget_stops_before_it_would_be_exceeded_and_a_higher_one_pays_only_for_the_rest(tmp_path):
    texts = [f"um chunk number {i} about the derailleur hanger" for i in range(30)]
    one = worst_case_cost({"messages": question(texts[0], 20).messages, "max_tokens": 20,
                           "response_format": {"type": "json_schema", "json_schema": {
                               "name": "answer", "schema": SCHEMA, "strict": True}}}, Prices(**PRICES))
    usage = Counter()
    with FakeOpenAI(latency_s=0.02) as server:
        llm = client(tmp_path, server, usage, spent_before=0.5, concurrency=4, prices=PRICES, budget=0.5 + 8.5 * one)
        with pytest.raises(BudgetExceeded) as stopped:
            ask_all(llm, texts, max_tokens=20)
        message = str(stopped.value)
        assert message.startswith("llm.budget: the next request could cost up to ") and "EUR" in message
        assert "(0.5000 before normalize started" in message and "raise llm.budget and re-run" in message
        asked = server.total
        assert 8 <= asked < 30 and 0.5 + usage["cost_usd"] <= llm.cfg.budget  # real answers are cheaper than the worst
        higher = client(tmp_path, server, Counter(), spent_before=0.5 + usage["cost_usd"], prices=PRICES, budget=100)
        answers = ask_all(higher, texts, max_tokens=20)
        assert all(not isinstance(a, LLMError) for a in answers)
        assert server.total == 30 and sum(a.cached for a in answers) == asked  # every answer paid for once


def test_cached_answers_cost_nothing_against_the_budget(tmp_path):
    with FakeOpenAI() as server:
        ask_all(client(tmp_path, server), ["um one", "um two"])
        # the run has spent its whole budget, yet the cached answers still come back
        answers = ask_all(client(tmp_path, server, spent_before=1.0, prices=PRICES, budget=1.0), ["um one", "um two"])
        assert [a.value for a in answers] == ["one", "two"] and server.total == 2
        with pytest.raises(BudgetExceeded):
            ask_all(client(tmp_path, server, spent_before=1.0, prices=PRICES, budget=1.0), ["um three"])
        assert server.total == 2


def test_the_run_directory_s_spending_counts_every_stage_and_attempt(tmp_path, recipe):
    path = recipe(llm={"model": "m"})
    publish_records(path, "transcribe", "transcripts.jsonl", [])
    run = RunDir.for_config(load_config(path))
    assert run_spent(run, "normalize") == (0.0, 0.0)
    run.update_stage("normalize", cost_spent=0.25)  # what lifecycle writes after each attempt
    run.update_stage("generate", cost_spent=1.5)
    assert run_spent(run, "generate") == (1.75, 1.5)
