"""The LLM client: any OpenAI-compatible endpoint, concurrent, retried, cached, accounted.

    client = LLMClient(config.llm, model, cache, log, usage)
    answers = client.map(items, lambda item: client.ask(messages_for(item), parse=..., schema=...))

- `llm.concurrency` requests in flight (asyncio + the SDK's AsyncOpenAI), a progress bar.
- Retries with jittered exponential backoff on 429, 5xx, timeouts and connection errors, honouring
  Retry-After; never on other 4xx (a context-length error is reported once); the SDK's own retries
  are off so attempts don't multiply; at most `llm.max_attempts` per request.
- Answers are cached by (model, messages, sampling parameters, schema): re-running, resuming after a
  crash or changing a downstream threshold asks nothing that was already answered.
- Structured output: the JSON schema goes out in the flavour `llm.structured_output` names; the
  caller's `parse` turns the text into a value or raises ValueError, and the model is re-asked once
  with that error before the item is given up with reason `unparsable`.
- `usage` counts requests, prompt/completion tokens, cache hits, re-asks, failures (and cost).
- Estimate mode asks nothing: cache misses are counted with a token estimate and answered with None.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .cache import Cache
from .config import LLMConfig, require_env
from .errors import UsageError
from .progress import track_async

T = TypeVar("T")
NAMESPACE = "llm/responses"
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
TRANSIENT = {"timeout", "connection", *(f"http_{status}" for status in RETRY_STATUS)}  # LLMError reasons worth a later retry


class LLMError(Exception):
    """A request that could not be answered: `reason` is what the stage records for the item."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


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
    def __init__(self, cfg: LLMConfig, model: str | None, cache: Cache, log: logging.Logger,
                 usage: Counter, estimate: bool = False):
        self.cfg = cfg
        self.model = model or cfg.model
        if not self.model:
            raise UsageError("llm.model: no model named; set llm.model (or the stage's own model)")
        self.cache, self.log, self.usage, self.estimate = cache, log, usage, estimate
        self.base_url = endpoint(cfg)
        self.key = api_key(cfg)  # checked now, before any work; never logged
        self._client = None
        self._semaphore: asyncio.Semaphore | None = None

    # --- running many requests ----------------------------------------------------------------
    def map(self, items: Iterable[T], ask: Callable[[T], Awaitable[Any]], description: str) -> list[Any]:
        """Run `ask(item)` for every item, `llm.concurrency` at a time; results (or exceptions) in order."""
        items = list(items)

        async def run_all() -> list[Any]:
            from openai import AsyncOpenAI

            self._semaphore = asyncio.Semaphore(self.cfg.concurrency)
            async with AsyncOpenAI(base_url=self.base_url, api_key=self.key, timeout=self.cfg.timeout_s,
                                   max_retries=0) as client:
                self._client = client
                tasks = [asyncio.ensure_future(self._guarded(ask, item)) for item in items]
                async for _ in track_async(asyncio.as_completed(tasks), description, len(tasks)):
                    pass
                return [task.result() for task in tasks]

        return asyncio.run(run_all())

    @staticmethod
    async def _guarded(ask, item):
        try:
            return await ask(item)
        except LLMError as exc:
            return exc

    # --- one question ----------------------------------------------------------------------------
    async def ask(self, messages: list[dict[str, str]], parse: Callable[[str], T], *,
                  schema: dict | None = None, schema_name: str = "answer", temperature: float = 0.2,
                  max_tokens: int = 1024) -> Answer:
        text, cached = await self._complete(messages, schema, schema_name, temperature, max_tokens)
        if text is None:
            return Answer(None, None, cached=False)
        try:
            return Answer(parse(text), text, cached)
        except ValueError as first:
            self.usage["reasks"] += 1
            retry = [*messages, {"role": "assistant", "content": text},
                     {"role": "user", "content": f"That answer could not be used: {first}. Answer again, "
                                                 "following the required format exactly."}]
            text2, cached2 = await self._complete(retry, schema, schema_name, temperature, max_tokens)
            if text2 is None:
                return Answer(None, None, cached=False)
            try:
                return Answer(parse(text2), text2, cached and cached2, reasked=True)
            except ValueError as second:
                raise LLMError("unparsable", f"unusable answer twice: {second}") from None

    async def _complete(self, messages, schema, schema_name, temperature, max_tokens) -> tuple[str | None, bool]:
        request: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                                   "max_tokens": max_tokens}
        if schema is not None and self.cfg.structured_output == "json_schema":
            request["response_format"] = {"type": "json_schema",
                                          "json_schema": {"name": schema_name, "schema": schema, "strict": True}}
        elif schema is not None and self.cfg.structured_output == "json_object":
            request["response_format"] = {"type": "json_object", "schema": llama_cpp_schema(schema)}
        key = Cache.key("chat", request)
        hit = self.cache.get(NAMESPACE, key)
        if hit is not None:
            self.usage["cache_hits"] += 1
            return hit["text"], True
        if self.estimate:
            chars = sum(len(m["content"]) for m in messages)
            self.usage["estimated_requests"] += 1
            self.usage["estimated_prompt_tokens"] += chars // 4 + 8 * len(messages)
            self.usage["estimated_completion_tokens"] += min(max_tokens, chars // 4)
            return None, False
        async with self._semaphore:
            response = await self._with_retries(request)
        text = response.choices[0].message.content or ""
        usage = response.usage
        prompt = getattr(usage, "prompt_tokens", 0) or 0
        completion = getattr(usage, "completion_tokens", 0) or 0
        self.usage["prompt_tokens"] += prompt
        self.usage["completion_tokens"] += completion
        if self.cfg.prices:
            self.usage["cost_usd"] += (prompt * self.cfg.prices.prompt_per_million
                                       + completion * self.cfg.prices.completion_per_million) / 1e6
        self.cache.put(NAMESPACE, key, {"text": text, "model": self.model, "prompt_tokens": prompt,
                                        "completion_tokens": completion})
        return text, False

    async def _with_retries(self, request: dict[str, Any]):
        import openai

        for attempt in range(1, self.cfg.max_attempts + 1):
            self.usage["requests"] += 1
            wait = None
            try:
                return await self._client.chat.completions.create(**request)
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status not in RETRY_STATUS:
                    self.usage["failed_requests"] += 1
                    raise LLMError(f"http_{status}", f"HTTP {status}: {_message(exc)}") from None
                reason, wait = f"http_{status}", retry_after(exc.response)
            except openai.APITimeoutError:
                reason = "timeout"
            except openai.APIConnectionError as exc:
                reason = "connection"
                self.log.debug("LLM connection error: %s", exc)
            if attempt == self.cfg.max_attempts:
                self.usage["failed_requests"] += 1
                raise LLMError(reason, f"{reason} after {attempt} attempts ({self.base_url})")
            if wait is None:
                wait = self.cfg.backoff_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            self.usage["retries"] += 1
            await asyncio.sleep(min(wait, self.cfg.max_backoff_s))
        raise AssertionError("unreachable")


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(getattr(exc, "message", exc))[:300]
