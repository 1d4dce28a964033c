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
- Refusals that are the caller's fault (400, 401, 402, 403, 404, 422, and a 429 whose code says the quota is
  spent; not a context-length error, which is about one item) stop the session after `REFUSALS_TO_STOP` in a
  row with the same status: one line with the server's message and what to fix (the key's variable,
  llm.model, the structured-output flavour).
- An answer cut at max_tokens (finish_reason "length") is never cached: it is asked once more with twice the
  room (at most `llm.reask_max_tokens`); cut again, the item fails with reason `truncated`.
- `llm.budget`: before each request its worst-case cost (budget.py) is reserved against what the run directory
  has spent; a request that could go past the budget stops the session once the requests in flight are done.
- Every stop (LLMStop, a StageError) lets the answers in flight finish and be cached, asks nothing more, and
  `ask_all` raises it, so the stage fails with that one line.
- Answers are cached by (model, messages, sampling parameters, schema): re-running, resuming after a
  crash or changing a downstream threshold asks nothing that was already answered.
- Structured output: the JSON schema goes out in the flavour `llm.structured_output` names; the
  question's `parse` turns the text into a value or raises ValueError, and the model is re-asked once
  with that error before the item is given up with reason `unparsable`.
- `usage` counts requests, prompt/completion tokens, cache hits, re-asks, failures, answers re-asked for being
  cut (`reasked_longer`) and cut twice (`truncated`), and cost.
- Estimate mode asks nothing: its session has no connection; cache misses are counted with a token
  estimate and answered with None.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import random
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .budget import worst_case_cost
from .cache import Cache
from .config import LLMConfig, require_env
from .errors import StageError, UsageError
from .llm_server import server_exit
from .progress import track_async

NAMESPACE = "llm/responses"
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
TRANSIENT = {"timeout", "connection", *(f"http_{status}" for status in RETRY_STATUS)}  # LLMError reasons worth a later retry
CALLER_FAULT = {400, 401, 402, 403, 404, 422}  # the key, the model or the request's shape: asking again changes nothing
REFUSALS_TO_STOP = 3  # refusals in a row with one of those statuses that stop the session
CONTEXT_LENGTH = re.compile(r"context (length|size|window)|context_length|too many tokens|prompt is too long", re.I)
FLAVOURS = {"json_schema": "a strict JSON schema, as OpenAI and vLLM take it",
            "json_object": "a JSON object with the schema as a hint, as llama.cpp's server takes it",
            "none": "no constrained output; answers are read from the text"}


class LLMError(Exception):
    """A request that could not be answered: `reason` is what the stage records for the item."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class ContextTooLong(LLMError):
    """The prompt (plus max_tokens) does not fit the model's context: about this item, not the endpoint."""


class LLMStop(StageError):
    """Nothing more is asked in this session; the stage fails with this one line (finished answers are cached)."""


class LLMServerDied(LLMStop):
    """The LLM server process is gone: the stage stops, nothing more is asked."""


class LLMRefused(LLMStop):
    """The endpoint refuses requests for a reason on the caller's side (the key, the model, the request's shape)."""


class BudgetExceeded(LLMStop):
    """The next request could take the run directory's LLM spending past `llm.budget`."""


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
                 usage: Counter, estimate: bool = False, stage: str | None = None, spent_before: float = 0.0):
        self.cfg = cfg
        self.spent_before = spent_before  # what the run directory spent on the LLM before this stage started
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
        self._stop: LLMStop | None = None  # once set, nothing more is sent; ask_all raises it
        self._stopping = asyncio.Event()  # set by a stop that also cuts backoff waits short
        self._refusals = (0, 0)  # (status, how many caller-fault refusals with it in a row)
        self._budget = asyncio.Condition()  # guards the reservations below; notified when one is released
        self._reserved, self._holding = 0.0, 0  # worst-case cost of the requests in flight, and how many

    async def ask_all(self, questions: list[Question], description: str) -> list[Answer | LLMError]:
        tasks = [asyncio.ensure_future(self._answer_or_error(q)) for q in questions]
        try:
            async for _ in track_async(asyncio.as_completed(tasks), description, len(tasks)):
                pass
        finally:  # every task ends by itself (a stop makes the unasked ones end at once); this is for interrupts
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._stop is not None:
            raise self._stop
        return [task.result() for task in tasks]

    async def _answer_or_error(self, question: Question) -> Answer | LLMError | LLMStop:
        try:
            return await self.ask(question)
        except (LLMError, LLMStop) as exc:  # a stop is also in self._stop, which ask_all raises
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
        """The answer, cached under the request's key once it is whole (re-asked with more room if it was cut)."""
        async with self._slots:
            text, finish, tokens = await self._post(request)
            if finish == "length":
                text, tokens = await self._longer(request)
        self.client.cache.put(NAMESPACE, key, {"text": text, "model": self.client.model, **tokens})
        return text

    async def _longer(self, request: dict[str, Any]) -> tuple[str, dict[str, int]]:
        """A cut answer asked once more with twice the room (at most llm.reask_max_tokens); LLMError `truncated`
        when that is not possible or the answer is cut again."""
        cut, ceiling = request["max_tokens"], self.client.cfg.reask_max_tokens
        room = min(2 * cut, ceiling)
        why = None
        if room <= cut:
            why = f"llm.reask_max_tokens ({ceiling}) leaves no more room to ask again"
        else:
            self.usage["reasked_longer"] += 1
            try:
                text, finish, tokens = await self._post({**request, "max_tokens": room})
            except ContextTooLong as exc:
                why = f"asking again with max_tokens={room} does not fit the model's context ({exc})"
            else:
                if finish != "length":
                    return text, tokens
                why = f"cut again with max_tokens={room}; raise llm.reask_max_tokens to give it more room"
        self.usage["truncated"] += 1
        raise LLMError("truncated", f"the answer was cut at max_tokens={cut} (finish_reason length) and {why}; "
                                    "not cached, a later run asks again")

    async def _post(self, request: dict[str, Any]) -> tuple[str, str | None, dict[str, int]]:
        """One request, retried, within the budget: (text, finish_reason, token counts), with the books kept."""
        held = await self._reserve(request)
        try:
            response = await self._with_retries(request)
            usage = response.usage
            prompt = getattr(usage, "prompt_tokens", 0) or 0
            completion = getattr(usage, "completion_tokens", 0) or 0
            self.usage["prompt_tokens"] += prompt
            self.usage["completion_tokens"] += completion
            prices = self.client.cfg.prices
            if prices:
                self.usage["cost_usd"] += prices.cost(prompt, completion)
        finally:
            await self._release(held)
        self._refusals = (0, 0)
        choice = response.choices[0]
        return (choice.message.content or "", choice.finish_reason,
                {"prompt_tokens": prompt, "completion_tokens": completion})

    async def _reserve(self, request: dict[str, Any]) -> float | None:
        """Hold the request's worst-case cost against llm.budget, waiting for the requests in flight to settle
        when only their reservations stand in the way; BudgetExceeded when even their real cost leaves no room."""
        cfg = self.client.cfg
        if cfg.budget is None or cfg.prices is None:
            return None
        cost = worst_case_cost(request, cfg.prices)
        async with self._budget:
            while True:
                if self._stop is not None:
                    raise self._stop
                spent = self.client.spent_before + self.usage["cost_usd"]
                if spent + self._reserved + cost <= cfg.budget:
                    self._reserved += cost
                    self._holding += 1
                    return cost
                if not self._holding:
                    raise self._halt(BudgetExceeded(self._over_budget(cost, spent)), cut_waits=False)
                await self._budget.wait()

    async def _release(self, held: float | None) -> None:
        if held is None:
            return
        async with self._budget:
            self._reserved -= held
            self._holding -= 1
            self._budget.notify_all()

    def _over_budget(self, cost: float, spent: float) -> str:
        cfg, stage = self.client.cfg, self.client.stage or "this stage"
        unit = cfg.prices.currency if cfg.prices else ""
        return (f"llm.budget: the next request could cost up to {cost:.4f} {unit}, which would take the run "
                f"directory's LLM spending past the budget of {cfg.budget:g} {unit}: {spent:.4f} {unit} spent so "
                f"far ({self.client.spent_before:.4f} before {stage} started, {spent - self.client.spent_before:.4f}"
                f" by it now); finished answers are cached, so raise llm.budget and re-run to pay only for the rest")

    def _halt(self, stop: LLMStop, cut_waits: bool = True) -> LLMStop:
        """Stop the session (the first stop wins); `cut_waits` also ends the backoff waits of requests in flight."""
        if self._stop is None:
            self._stop = stop
            if cut_waits:
                self._stopping.set()
        return self._stop

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    def _refused(self, status: int, message: str, request: dict[str, Any]) -> Exception:
        """The error for a refusal that retrying cannot fix: about this item (LLMError), or, after
        REFUSALS_TO_STOP caller-fault refusals in a row with one status, the stop of the session."""
        if status == 400 and CONTEXT_LENGTH.search(message):
            return ContextTooLong(f"http_{status}", f"HTTP {status}: {message}")
        if status not in CALLER_FAULT:
            return LLMError(f"http_{status}", f"HTTP {status}: {message}")
        last, count = self._refusals
        self._refusals = (status, count + 1 if last == status else 1)
        if self._refusals[1] >= REFUSALS_TO_STOP:
            return self._halt(LLMRefused(refusal_message(self.client, status, message, request)))
        return LLMError(f"http_{status}", f"HTTP {status}: {message}")

    async def _with_retries(self, request: dict[str, Any]):
        import openai

        cfg, url = self.client.cfg, self.client.base_url
        for attempt in range(1, cfg.max_attempts + 1):
            if self._stop is not None:
                raise self._stop
            self.usage["requests"] += 1
            wait = None
            try:
                return await self._sdk.chat.completions.create(**request)
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status == 429 and _code(exc) == "insufficient_quota":  # OpenAI's "no credit left": no use waiting
                    status = 402
                if status not in RETRY_STATUS:
                    self.usage["failed_requests"] += 1
                    raise self._refused(status, _message(exc, self.client.key), request) from None
                reason, wait = f"http_{status}", retry_after(exc.response)
            except openai.APIConnectionError as exc:  # timeouts included
                reason = "timeout" if isinstance(exc, openai.APITimeoutError) else "connection"
                self.client.log.debug("LLM %s error: %s", reason, exc)
                died = server_exit()
                if died is not None:
                    self.usage["failed_requests"] += 1
                    raise self._halt(LLMServerDied(died.describe(self.client.stage))) from None
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
            await self._pause(min(wait, cfg.max_backoff_s))
        raise AssertionError("unreachable")


def refusal_message(client: LLMClient, status: int, message: str, request: dict[str, Any]) -> str:
    """One line: who refused what, the server's words, and the setting to fix."""
    cfg, model = client.cfg, client.model
    if status in (401, 403):
        fix = (f"check the API key in the environment variable {cfg.api_key_env} (named by llm.api_key_env): it is "
               f"wrong, expired, or not allowed to use model {model!r}" if cfg.api_key_env else
               "the endpoint wants an API key: set llm.api_key_env to the NAME of the environment variable that "
               "holds it")
    elif status == 402:  # or a 429 with code insufficient_quota
        fix = (f"the account behind the key in {cfg.api_key_env or 'the API key'} has no credit left: add credit or "
               "use another key")
    elif status == 404:
        fix = (f"check llm.model (or the stage's own model key): {model!r} is not a model this endpoint serves (its "
               "/models lists them), or llm.base_url is not the API's root (it usually ends in /v1)")
    elif "response_format" in request:
        flavour = cfg.structured_output
        others = " or ".join(f"{name} ({what})" for name, what in FLAVOURS.items() if name != flavour)
        fix = (f"the requests ask for structured output as llm.structured_output: {flavour} ({FLAVOURS[flavour]}); "
               f"if that is what the endpoint refuses, set llm.structured_output to {others}")
    else:
        fix = (f"the endpoint does not accept these requests for model {model!r}: check llm.model and the stage's "
               "LLM settings against the server's message")
    return (f"the LLM endpoint {client.base_url} refused {REFUSALS_TO_STOP} requests in a row with HTTP {status}: "
            f"{message.rstrip('. ')}; {fix}; nothing more is asked (finished answers are cached)")


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


def _code(exc: Any) -> str | None:
    """The error's machine-readable `code` (OpenAI's `insufficient_quota`, `context_length_exceeded`), if any."""
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    return str(inner["code"]) if isinstance(inner, dict) and inner.get("code") else None


def _message(exc: Any, key: str = "") -> str:
    """The server's error message on one line, at most 300 characters, the API key (if it echoes it) masked."""
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    text = str(inner["message"]) if isinstance(inner, dict) and inner.get("message") else \
        str(getattr(exc, "message", exc))
    if len(key) >= 8:
        text = text.replace(key, "***")
    return " ".join(text.split())[:300]
