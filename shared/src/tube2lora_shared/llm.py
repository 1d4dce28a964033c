"""The LLM client: any OpenAI-compatible endpoint, concurrent, retried, cached, accounted.

    client = ctx.llm(cfg.model)  # a stage gets its client from the stage context
    answers = client.ask_all([Question(messages_for(item), parse, schema=...) for item in items], "items")

- A session (`async with client.session() as session`) holds the connection pool and `llm.concurrency`
  slots; `session.ask(question)` belongs to it. `ask_all` opens one, asks everything, shows a progress
  bar, and returns an Answer or an LLMError per question, in order.
- Retries with jittered exponential backoff on 429, 5xx, timeouts and connection errors, honouring
  Retry-After; never on other 4xx (a context-length error is reported once); the SDK's own retries
  are off so attempts don't multiply; at most `llm.max_attempts` per request.
- A connection error first asks whether the LLM server process died (llm_server.py): if its supervisor
  says so, the stage stops at once with one line (LLMServerDied), not item by item after backoffs.
- Answers are cached by (model, messages, sampling parameters, schema): re-running, resuming after a
  crash or changing a downstream threshold asks nothing that was already answered.
- Structured output: the JSON schema goes out in the flavour `llm.structured_output` names; the
  question's `parse` turns the text into a value or raises ValueError, and the model is re-asked once
  with that error before the item is given up with reason `unparsable`.
- `usage` counts requests, prompt/completion tokens, cache hits, re-asks, failures (and cost).
- Estimate mode asks nothing: its session has no connection; cache misses are counted with a token
  estimate and answered with None.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .cache import Cache
from .config import LLMConfig, require_env
from .errors import StageError, UsageError
from .llm_server import server_exit
from .progress import track_async

NAMESPACE = "llm/responses"
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
TRANSIENT = {"timeout", "connection", *(f"http_{status}" for status in RETRY_STATUS)}  # LLMError reasons worth a later retry


class LLMError(Exception):
    """A request that could not be answered: `reason` is what the stage records for the item."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class LLMServerDied(StageError):
    """The LLM server process is gone: the stage stops, nothing more is asked."""


@dataclass(frozen=True)
class Question:
    messages: list[dict[str, str]]
    parse: Callable[[str], Any]  # the answer's text -> a value, or ValueError saying what to fix
    schema: dict | None = None
    schema_name: str = "answer"
    temperature: float = 0.2
    max_tokens: int = 1024
    # estimate mode's guess at the answer's length in tokens (the asking stage knows what it asks for); None:
    # as long as the prompt's text, up to max_tokens
    expect_tokens: int | None = None


@dataclass
class Answer:
    value: Any  # what `parse` returned; None in estimate mode
    text: str | None
    cached: bool
    reasked: bool = False


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint(cfg: LLMConfig) -> str:
    """The endpoint URL: from the environment variable `base_url_env` names, else `base_url`."""
    return require_env("llm.base_url_env", cfg.base_url_env) or cfg.base_url


def api_key(cfg: LLMConfig) -> str:
    """The key from the environment variable the config names; required for non-loopback endpoints."""
    if cfg.api_key_env:
        return require_env("llm.api_key_env", cfg.api_key_env)
    if not is_loopback(endpoint(cfg)):
        raise UsageError(f"llm.api_key_env: {endpoint(cfg)} is not a loopback endpoint; name the environment "
                         "variable that holds its API key")
    return "not-needed"


# llama.cpp turns a string's maxLength into nested repetitions and refuses grammars past about 1,000 of
# them ("exceeds sane defaults"), and llama-cpp-python's server dies on that refusal. Measured with
# 0.3.36: 1000 works, 1200 kills the server.
LLAMA_CPP_MAX_LENGTH = 1000


def llama_cpp_schema(schema: Any) -> Any:
    """The schema with every string maxLength capped at what llama.cpp's grammar builder accepts."""
    if isinstance(schema, dict):
        out = {k: llama_cpp_schema(v) for k, v in schema.items()}
        if isinstance(out.get("maxLength"), int) and out["maxLength"] > LLAMA_CPP_MAX_LENGTH:
            out["maxLength"] = LLAMA_CPP_MAX_LENGTH
        return out
    if isinstance(schema, list):
        return [llama_cpp_schema(item) for item in schema]
    return schema


def retry_after(response: Any) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), if the server sent one."""
    headers = getattr(response, "headers", None) or {}
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


class LLMClient:
    """One model behind one endpoint, with the run's cache and books; `session()` talks to it."""

    def __init__(self, cfg: LLMConfig, model: str | None, cache: Cache, log: logging.Logger,
                 usage: Counter, estimate: bool = False, stage: str | None = None):
        self.cfg = cfg
        self.model = model or cfg.model
        if not self.model:
            raise UsageError("llm.model: no model named; set llm.model (or the stage's own model)")
        self.cache, self.log, self.usage, self.estimate, self.stage = cache, log, usage, estimate, stage
        self.base_url = endpoint(cfg)
        self.key = api_key(cfg)  # checked now, before any work; never logged

    @asynccontextmanager
    async def session(self) -> AsyncIterator["Session"]:
        """An open session: the SDK client and `llm.concurrency` slots (none of it in estimate mode)."""
        if self.estimate:
            yield EstimateSession(self)
            return
        from openai import AsyncOpenAI

        async with AsyncOpenAI(base_url=self.base_url, api_key=self.key, timeout=self.cfg.timeout_s,
                               max_retries=0) as sdk:
            yield Session(self, sdk)

    def ask_all(self, questions: Iterable[Question], description: str) -> list[Answer | LLMError]:
        """Every question in one session, `llm.concurrency` at a time: an Answer or LLMError each, in order."""
        questions = list(questions)

        async def run_all() -> list[Answer | LLMError]:
            async with self.session() as session:
                return await session.ask_all(questions, description)

        return asyncio.run(run_all())

    def request(self, messages: list[dict[str, str]], question: Question) -> dict[str, Any]:
        """The chat-completions body (and, hashed, the cache key) for these messages."""
        request: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": question.temperature,
                                   "max_tokens": question.max_tokens}
        schema = question.schema
        if schema is not None and self.cfg.structured_output == "json_schema":
            request["response_format"] = {"type": "json_schema", "json_schema": {
                "name": question.schema_name, "schema": schema, "strict": True}}
        elif schema is not None and self.cfg.structured_output == "json_object":
            request["response_format"] = {"type": "json_object", "schema": llama_cpp_schema(schema)}
        return request


class Session:
    """Questions asked over one open connection pool, at most `llm.concurrency` in flight."""

    def __init__(self, client: LLMClient, sdk: Any):
        self.client, self.usage = client, client.usage
        self._sdk = sdk
        self._slots = asyncio.Semaphore(client.cfg.concurrency)
        self._died: LLMServerDied | None = None  # once the server is known dead, nothing more is sent

    async def ask_all(self, questions: list[Question], description: str) -> list[Answer | LLMError]:
        tasks = [asyncio.ensure_future(self._answer_or_error(q)) for q in questions]
        try:
            async for _ in track_async(asyncio.as_completed(tasks), description, len(tasks)):
                pass
        finally:  # a dead server stops everything: the other questions are not asked
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return [task.result() for task in tasks]

    async def _answer_or_error(self, question: Question) -> Answer | LLMError:
        try:
            return await self.ask(question)
        except LLMError as exc:
            return exc

    async def ask(self, question: Question) -> Answer:
        """The parsed answer (re-asked once with the parse error); LLMError when there is none."""
        text, cached = await self._complete(question.messages, question)
        if text is None:
            return Answer(None, None, cached=False)
        try:
            return Answer(question.parse(text), text, cached)
        except ValueError as first:
            self.usage["reasks"] += 1
            retry = [*question.messages, {"role": "assistant", "content": text},
                     {"role": "user", "content": f"That answer could not be used: {first}. Answer again, "
                                                 "following the required format exactly."}]
            text2, cached2 = await self._complete(retry, question)
            if text2 is None:
                return Answer(None, None, cached=False)
            try:
                return Answer(question.parse(text2), text2, cached and cached2, reasked=True)
            except ValueError as second:
                raise LLMError("unparsable", f"unusable answer twice: {second}") from None

    async def _complete(self, messages: list[dict[str, str]], question: Question) -> tuple[str | None, bool]:
        request = self.client.request(messages, question)
        key = Cache.key("chat", request)
        hit = self.client.cache.get(NAMESPACE, key)
        if hit is not None:
            self.usage["cache_hits"] += 1
            return hit["text"], True
        return await self._send(request, key), False

    async def _send(self, request: dict[str, Any], key: str) -> str | None:
        async with self._slots:
            response = await self._with_retries(request)
        text = response.choices[0].message.content or ""
        usage = response.usage
        prompt = getattr(usage, "prompt_tokens", 0) or 0
        completion = getattr(usage, "completion_tokens", 0) or 0
        self.usage["prompt_tokens"] += prompt
        self.usage["completion_tokens"] += completion
        prices = self.client.cfg.prices
        if prices:
            self.usage["cost_usd"] += (prompt * prices.prompt_per_million
                                       + completion * prices.completion_per_million) / 1e6
        self.client.cache.put(NAMESPACE, key, {"text": text, "model": self.client.model, "prompt_tokens": prompt,
                                               "completion_tokens": completion})
        return text

    async def _with_retries(self, request: dict[str, Any]):
        import openai

        cfg, url = self.client.cfg, self.client.base_url
        for attempt in range(1, cfg.max_attempts + 1):
            if self._died is not None:
                raise self._died
            self.usage["requests"] += 1
            wait = None
            try:
                return await self._sdk.chat.completions.create(**request)
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status not in RETRY_STATUS:
                    self.usage["failed_requests"] += 1
                    raise LLMError(f"http_{status}", f"HTTP {status}: {_message(exc)}") from None
                reason, wait = f"http_{status}", retry_after(exc.response)
            except openai.APIConnectionError as exc:  # timeouts included
                reason = "timeout" if isinstance(exc, openai.APITimeoutError) else "connection"
                self.client.log.debug("LLM %s error: %s", reason, exc)
                died = server_exit()
                if died is not None:
                    self.usage["failed_requests"] += 1
                    self._died = LLMServerDied(died.describe(self.client.stage))
                    raise self._died from None
            if attempt == cfg.max_attempts:
                self.usage["failed_requests"] += 1
                if reason == "connection":
                    raise LLMError(reason, f"could not connect to the LLM server at {url} after {attempt} attempts: "
                                           "is it running and listening there? Check llm.base_url (or the "
                                           "variable llm.base_url_env names) and the server's log")
                raise LLMError(reason, f"{reason} after {attempt} attempts ({url})")
            if wait is None:
                wait = cfg.backoff_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            self.usage["retries"] += 1
            await asyncio.sleep(min(wait, cfg.max_backoff_s))
        raise AssertionError("unreachable")


class EstimateSession(Session):
    """A session that calls nothing: a cache hit is answered from the cache (and counted), a miss is counted with
    a token estimate and answered None.

    Prompt tokens: a quarter of the messages' characters plus 8 per message (the chat template's markers); for
    English that is about 1.3 tokens a word, as BPE tokenizers count it. Completion tokens: the question's
    `expect_tokens`, else as many as the prompt has, up to `max_tokens`."""

    def __init__(self, client: LLMClient):
        super().__init__(client, sdk=None)

    async def _complete(self, messages: list[dict[str, str]], question: Question) -> tuple[str | None, bool]:
        request = self.client.request(messages, question)
        hit = self.client.cache.get(NAMESPACE, Cache.key("chat", request))
        if hit is not None:
            self.usage["cache_hits"] += 1
            return hit["text"], True
        self.usage["estimated_requests"] += 1
        self.usage["estimated_prompt_tokens"] += prompt_tokens(messages)
        expected = question.expect_tokens
        if expected is None:
            expected = sum(len(m["content"]) for m in messages) // 4
        self.usage["estimated_completion_tokens"] += min(question.max_tokens, expected)
        return None, False


def prompt_tokens(messages: list[dict[str, str]]) -> int:
    """Estimate mode's count of a prompt's tokens (see EstimateSession)."""
    return sum(len(m["content"]) for m in messages) // 4 + 8 * len(messages)


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(getattr(exc, "message", exc))[:300]
