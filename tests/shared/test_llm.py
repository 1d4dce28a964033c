"""The LLM client against the loopback fake OpenAI-compatible server, through the real openai SDK."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter

import pytest

from tube2lora_demo.fake_llm import FakeOpenAI
from tube2lora_shared.cache import Cache
from tube2lora_shared.config import LLMConfig
from tube2lora_shared.errors import UsageError
from tube2lora_shared.llm import LLMClient, LLMError, LLMServerDied, Question
from tube2lora_shared.llm_server import STATUS_ENV, ServerExit, server_exit

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
          "additionalProperties": False}


def parse(text: str) -> str:
    try:
        return json.loads(text)["text"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"not the JSON object asked for ({exc})") from None


def client(tmp_path, server, usage=None, estimate=False, **cfg) -> LLMClient:
    config = LLMConfig(base_url=server.base_url, model="fake-model", backoff_s=0.01, **cfg)
    return LLMClient(config, None, Cache(tmp_path / "cache"), logging.getLogger("test"),
                     usage if usage is not None else Counter(), estimate=estimate)


def question(text: str) -> Question:
    return Question([{"role": "user", "content": f"<transcript>{text}</transcript>"}], parse, schema=SCHEMA)


def ask_all(llm: LLMClient, texts: list[str]):
    return llm.ask_all([question(text) for text in texts], "test")


def test_concurrency_and_cache(tmp_path):
    usage = Counter()
    with FakeOpenAI(latency_s=0.2) as server:
        llm = client(tmp_path, server, usage, concurrency=8)
        answers = ask_all(llm, [f"um hello {i}" for i in range(16)])
        assert [a.value for a in answers] == [f"hello {i}" for i in range(16)]
        # many in flight at once, never more than allowed (the speedup is measured in bench/normalize.py)
        assert 4 <= server.max_in_flight <= 8
        assert usage["requests"] == 16 and usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
        again = ask_all(client(tmp_path, server, usage), [f"um hello {i}" for i in range(16)])
        assert server.total == 16 and usage["cache_hits"] == 16 and all(a.cached for a in again)


def test_concurrency_limit_holds(tmp_path):
    with FakeOpenAI(latency_s=0.1) as server:
        ask_all(client(tmp_path, server, concurrency=2), [f"x {i}" for i in range(8)])
        assert server.max_in_flight <= 2


def test_retry_after_is_honoured(tmp_path):
    with FakeOpenAI(retry_after="1") as server:
        server.forced = ["429"]
        usage = Counter()
        started = time.monotonic()
        [answer] = ask_all(client(tmp_path, server, usage), ["hi"])
        assert answer.value == "hi" and time.monotonic() - started >= 1.0
        assert server.requests == {"429": 1, "ok": 1} and usage["retries"] == 1


def test_server_errors_and_timeouts_are_retried(tmp_path):
    with FakeOpenAI(timeout_sleep_s=1.0) as server:
        server.forced = ["500", "timeout"]
        [answer] = ask_all(client(tmp_path, server, timeout_s=0.5), ["hi"])
        assert answer.value == "hi" and server.requests == {"500": 1, "timeout": 1, "ok": 1}


def test_attempts_are_bounded(tmp_path):
    with FakeOpenAI() as server:
        server.forced = ["500"] * 10
        [error] = ask_all(client(tmp_path, server, max_attempts=3), ["hi"])
        assert isinstance(error, LLMError) and error.reason == "http_500"
        assert server.total == 3  # the SDK's own retries are off


def test_context_length_is_reported_not_repeated(tmp_path):
    with FakeOpenAI() as server:
        server.forced = ["context"]
        [error] = ask_all(client(tmp_path, server), ["hi"])
        assert isinstance(error, LLMError) and error.reason == "http_400"
        assert "maximum context length" in str(error) and server.total == 1


def test_malformed_answers_are_reasked_once_then_given_up(tmp_path):
    usage = Counter()
    with FakeOpenAI() as server:
        server.forced = ["malformed"]
        [answer] = ask_all(client(tmp_path, server, usage), ["fixed on the second try"])
        assert answer.value == "fixed on the second try" and answer.reasked and usage["reasks"] == 1
        reask = server.bodies[-1]["messages"]
        assert reask[-2]["role"] == "assistant" and "could not be used" in reask[-1]["content"]
        server.forced = ["malformed", "malformed"]
        [error] = ask_all(client(tmp_path, server), ["broken twice"])
        assert isinstance(error, LLMError) and error.reason == "unparsable"


def test_structured_output_flavours(tmp_path):
    with FakeOpenAI() as server:
        ask_all(client(tmp_path / "a", server, structured_output="json_schema"), ["x"])
        assert server.bodies[-1]["response_format"]["type"] == "json_schema"
        assert server.bodies[-1]["response_format"]["json_schema"]["schema"] == SCHEMA
        ask_all(client(tmp_path / "b", server, structured_output="json_object"), ["x"])
        assert server.bodies[-1]["response_format"] == {"type": "json_object", "schema": SCHEMA}


def test_llama_cpp_schemas_keep_string_lengths_it_can_compile():
    from tube2lora_generate.parsing import conversation_schema

    from tube2lora_shared.llm import LLAMA_CPP_MAX_LENGTH, llama_cpp_schema

    schema = conversation_schema(1, answer_words=200)  # 2,400 characters: llama.cpp's server would die on it
    capped = llama_cpp_schema(schema)
    lengths = [item["properties"]["content"]["maxLength"] for item in capped["properties"]["messages"]["prefixItems"]]
    assert lengths == [400, LLAMA_CPP_MAX_LENGTH]
    assert schema["properties"]["messages"]["prefixItems"][1]["properties"]["content"]["maxLength"] == 2400  # a copy


def test_estimate_mode_asks_nothing(tmp_path):
    usage = Counter()
    with FakeOpenAI() as server:
        answers = ask_all(client(tmp_path, server, usage, estimate=True), ["one", "two", "three"])
        assert server.total == 0 and [a.value for a in answers] == [None] * 3
        assert usage["estimated_requests"] == 3 and usage["estimated_prompt_tokens"] > 0


def test_keys_come_from_the_environment_and_never_reach_logs(tmp_path, monkeypatch, caplog):
    cache = Cache(tmp_path)
    with pytest.raises(UsageError, match="llm.api_key_env: https://api.example.com/v1 is not a loopback"):
        LLMClient(LLMConfig(base_url="https://api.example.com/v1", model="m"), None, cache,
                  logging.getLogger("t"), Counter())
    monkeypatch.delenv("T2L_TEST_KEY", raising=False)
    with pytest.raises(UsageError, match="environment variable T2L_TEST_KEY is not set"):
        LLMClient(LLMConfig(base_url="https://api.example.com/v1", model="m", api_key_env="T2L_TEST_KEY"),
                  None, cache, logging.getLogger("t"), Counter())
    monkeypatch.setenv("T2L_TEST_KEY", "sk-secret-123")
    caplog.set_level(logging.DEBUG)
    with FakeOpenAI() as server:
        llm = LLMClient(LLMConfig(base_url=server.base_url, model="m", api_key_env="T2L_TEST_KEY"), None,
                        cache, logging.getLogger("tube2lora.t"), Counter())
        ask_all(llm, ["hi"])
    assert "sk-secret-123" not in caplog.text
    assert not any("sk-secret-123" in p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file())


def test_the_endpoint_can_come_from_the_environment(tmp_path, monkeypatch):
    cfg = LLMConfig(base_url="http://127.0.0.1:9/v1", base_url_env="T2L_TEST_URL", model="m")
    monkeypatch.delenv("T2L_TEST_URL", raising=False)
    with pytest.raises(UsageError, match="llm.base_url_env: environment variable T2L_TEST_URL is not set"):
        LLMClient(cfg, None, Cache(tmp_path), logging.getLogger("t"), Counter())
    with FakeOpenAI() as server:
        monkeypatch.setenv("T2L_TEST_URL", server.base_url)  # base_url (port 9) would refuse
        answers = ask_all(LLMClient(cfg, None, Cache(tmp_path), logging.getLogger("t"), Counter()), ["hi"])
        assert server.total == 1 and answers[0].value is not None
    monkeypatch.setenv("T2L_TEST_URL", "https://api.example.com/v1")
    with pytest.raises(UsageError, match="https://api.example.com/v1 is not a loopback endpoint"):
        LLMClient(cfg, None, Cache(tmp_path), logging.getLogger("t"), Counter())


def test_a_session_is_what_asks(tmp_path):
    import asyncio

    async def two_sessions(llm):
        async with llm.session() as first:
            one = await first.ask(question("um one"))
        async with llm.session() as second:  # a new pool; the first one's answer is now a cache hit
            return one, await second.ask(question("um one")), await second.ask(question("uh two"))

    with FakeOpenAI() as server:
        llm = client(tmp_path, server)
        one, again, two = asyncio.run(two_sessions(llm))
        assert (one.value, one.cached, again.cached, two.value) == ("one", False, True, "two") and server.total == 2
    assert not hasattr(llm, "ask")  # asking needs a session: the client alone holds no connection


def closed_port_url() -> str:
    with FakeOpenAI() as server:
        return server.base_url  # nothing listens there once the server is shut


def test_a_refused_connection_names_the_url_and_what_to_check(tmp_path, monkeypatch):
    monkeypatch.delenv(STATUS_ENV, raising=False)
    config = LLMConfig(base_url=closed_port_url(), model="m", backoff_s=0.01, max_attempts=2)
    [error] = LLMClient(config, None, Cache(tmp_path), logging.getLogger("t"), Counter()).ask_all(
        [question("hi")], "test")
    assert isinstance(error, LLMError) and error.reason == "connection"
    assert f"could not connect to the LLM server at {config.base_url} after 2 attempts" in str(error)
    assert "is it running" in str(error) and "llm.base_url" in str(error)


def test_a_dead_server_stops_everything_at_the_first_refusal(tmp_path, monkeypatch):
    status = tmp_path / "llm-server.status.json"
    status.write_text(json.dumps({"what": "llama.cpp server (SmolLM2-135M-Instruct)", "pid": 4242, "returncode": -11,
                                  "signal": "SIGSEGV", "log": "/x/llm-server.log",
                                  "log_tail": ["llama_new_context_with_model: n_ctx = 2048", "Segmentation fault"]}))
    monkeypatch.setenv(STATUS_ENV, str(status))
    usage = Counter()
    config = LLMConfig(base_url=closed_port_url(), model="m", backoff_s=60, max_attempts=4, concurrency=1)
    llm = LLMClient(config, None, Cache(tmp_path), logging.getLogger("t"), usage, stage="normalize")
    with pytest.raises(LLMServerDied) as died:
        llm.ask_all([question(f"hi {i}") for i in range(5)], "test")
    message = str(died.value)
    assert message.startswith("the LLM server process died (SIGSEGV, exit -11) during normalize")
    assert "last lines of its log /x/llm-server.log: llama_new_context_with_model: n_ctx = 2048 | Segmentation fault" \
        in message and "re-run" in message and "\n" not in message
    assert usage["requests"] == 1 and usage["retries"] == 0  # no backoff waited, no other question asked


def test_a_server_status_file_only_counts_once_it_exists(tmp_path, monkeypatch):
    status = tmp_path / "not-written-yet.json"
    monkeypatch.setenv(STATUS_ENV, str(status))
    config = LLMConfig(base_url=closed_port_url(), model="m", backoff_s=0.01, max_attempts=2)
    [error] = LLMClient(config, None, Cache(tmp_path), logging.getLogger("t"), Counter()).ask_all(
        [question("hi")], "test")
    assert isinstance(error, LLMError) and error.reason == "connection"  # a plain refusal, item by item
    ServerExit(what="llama.cpp server", pid=7, returncode=1, log=None).write(status)  # what a supervisor calls
    assert server_exit().describe("generate") == ("the LLM server process died (exit 1) during generate "
                                                  "(llama.cpp server, pid 7); re-run (finished answers are cached)")
