"""A loopback OpenAI-compatible server for the sample recipe (configs/sample.yaml), tests and benchmarks:
deterministic answers, request counting, and injectable trouble (429 with Retry-After, 500, malformed
output, slow answers, answers cut at max_tokens, and the refusals of a hosted API).

    with FakeOpenAI(latency_s=0.2, fault_rate=0.3) as llm:
        ... llm.base_url ... llm.requests ...

Switches a hosted API's habits on (all off by default): `refuse_json_schema` answers 400 to a
`response_format` of type json_schema (as an API that does not take `prefixItems` under `strict` does),
`api_key` answers 401 to any other bearer key, `models` answers 404 to any other model, and
`honour_max_tokens` cuts an answer longer than max_tokens (4 characters a token) with finish_reason "length".
The forced outcome "length" cuts one answer in half, "400" refuses one request, "quota" answers
429 `insufficient_quota` (an account without credit).

The default answer (`answer`) cleans the text between <transcript> tags for normalize prompts (drops
um/uh fillers and doubled words; JSON {"text": ...} when a response_format was sent, <<<CLEAN>>> /
<<<END>>> otherwise), and for generate prompts (<text> tags) writes conversations that paraphrase the
excerpt, or edits that follow the brief; own_words prompts (<passage> tags) get a viewer's question about the
passage, in the language the prompt asks for (English, German, Russian or Japanese; English otherwise), and
curation prompts (<question> and <answer> tags) a score, 5 when the answer mentions what the question asks
about, else 2. Pass `responder(body) -> str` for anything else.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import regex

FILLERS = re.compile(r"\b(um+|uh+|erm|you know,?)\s+", re.I)


def clean_transcript(body: dict) -> str:
    prompts = [m["content"] for m in body["messages"] if m["role"] == "user"]
    found = next((f for p in reversed(prompts) if (f := re.search(r"<transcript>\s*(.*?)\s*</transcript>", p, re.S))),
                 None)
    text = found.group(1) if found else prompts[-1]
    text = FILLERS.sub("", text)
    text = re.sub(r"\b(\w+) \1\b", r"\1", text)
    text = " ".join(text.split())
    if body.get("response_format"):
        return json.dumps({"text": text})
    return f"<<<CLEAN>>>\n{text}\n<<<END>>>"


_LONG_WORD = regex.compile(r"[^\W\d_]{6,}")  # letters of any script, 6 or more
_CJK_TERM = regex.compile(r"[\p{Han}\p{Katakana}ー]{2,}")  # a run of kanji or katakana: Japanese and Chinese terms
QUESTIONS = {"English": "What should I know about the {key}?", "German": "Was sollte ich über {key} wissen?",
             "Russian": "Что нужно знать про {key}?", "Japanese": "{key}は何が大事ですか？"}


def _keywords(text: str, n: int) -> list[str]:
    seen = []
    pattern = _CJK_TERM if _CJK_TERM.search(text) else _LONG_WORD
    for word in sorted(pattern.findall(text), key=len, reverse=True):
        if word.lower() not in seen:
            seen.append(word.lower())
    return (seen or ["bike"]) * n


def creator_responder(body: dict) -> str:
    """Plausible generate answers: conversations that paraphrase (never paste) the excerpt, and edits
    that follow the brief named in the prompt."""
    prompt = body["messages"][-1]["content"] if body["messages"][-1]["role"] == "user" else ""
    prompts = [m["content"] for m in body["messages"] if m["role"] == "user"]
    source = next((f.group(1) for p in reversed(prompts) if (f := re.search(r"<text>\s*(.*?)\s*</text>", p, re.S))), "")
    first = prompts[0]
    if "Brief:" in first:
        words = source.split()
        brief = re.search(r"Brief: (.*)", first).group(1)
        if "filler" in brief:
            out = FILLERS.sub("", source)
        elif "60 percent" in brief:
            out = " ".join(words[: int(len(words) * 0.6)])
        elif "examples" in brief:
            out = source + " For example, " + " ".join(words[: int(len(words) * 0.4)])
        else:
            out = "Hook: " + source + " That's it for today."
        return json.dumps({"output": out})
    pairs = int(re.search(r"exactly (\d+) viewer questions", first).group(1)) if "viewer questions" in first else 1
    keys = _keywords(source, 2 * pairs + 2)
    messages = []
    for i in range(pairs):
        k1, k2 = keys[2 * i], keys[2 * i + 1]
        messages.append({"role": "user", "content": f"Toby, what should I know about the {k1}?"})
        answer = (f"Here's the thing about the {k1}: keep it simple, no drama. Look after the {k2} before it "
                  "becomes a problem, take your time, check your work twice, and never rush it, because slow "
                  "is smooth and smooth is fast.")
        if i == 0 and "clarifying question" in first:
            answer = f"Good question, do you mean the {k1} on a road bike or on a mountain bike? " + answer
        messages.append({"role": "assistant", "content": answer})
    return json.dumps({"messages": messages})


def _tagged(body: dict, tag: str) -> str | None:
    prompts = [m["content"] for m in body["messages"] if m["role"] == "user"]
    found = next((f for p in reversed(prompts) if (f := re.search(rf"<{tag}>\s*(.*?)\s*</{tag}>", p, re.S))), None)
    return found.group(1) if found else None


def own_words_responder(body: dict) -> str:
    """own_words: the viewer's question about a passage's longest word; curation: 5 when the answer mentions
    the question's longest word, else 2. JSON when a response_format was sent, a bare line otherwise."""
    question, text = _tagged(body, "question"), _tagged(body, "answer")
    if question is not None and text is not None:
        key = _keywords(question, 1)[0]
        score = 5 if key in text.lower() else 2
        return json.dumps({"score": score}) if body.get("response_format") else str(score)
    prompt = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
    language = next((name for name in QUESTIONS if f"question in {name}" in prompt), "English")
    asked = QUESTIONS[language].format(key=_keywords(_tagged(body, "passage") or "", 1)[0])
    return json.dumps({"question": asked}) if body.get("response_format") else asked


def answer(body: dict) -> str:
    """The default: normalize prompts (<transcript>) get cleaned text, own_words prompts (<passage>, or
    <question> and <answer>) a question or a score, generate prompts (<text>) conversations or edits."""
    if any("<transcript>" in (m.get("content") or "") for m in body["messages"]):
        return clean_transcript(body)
    if _tagged(body, "passage") is not None or _tagged(body, "answer") is not None:
        return own_words_responder(body)
    return creator_responder(body)


class FakeOpenAI:
    def __init__(self, responder=answer, latency_s: float = 0.0, fault_rate: float = 0.0,
                 faults: tuple[str, ...] = ("429", "500", "malformed", "timeout"), timeout_sleep_s: float = 2.0,
                 seed: int = 7, retry_after: str = "1", port: int = 0, refuse_json_schema: bool = False,
                 api_key: str | None = None, models: tuple[str, ...] | None = None, honour_max_tokens: bool = False):
        self.responder = responder
        self.refuse_json_schema = refuse_json_schema
        self.api_key = api_key
        self.models = models
        self.honour_max_tokens = honour_max_tokens
        self.latency_s = latency_s
        self.fault_rate = fault_rate
        self.faults = faults
        self.timeout_sleep_s = timeout_sleep_s
        self.retry_after = retry_after
        self.random = random.Random(seed)
        self.requests: Counter[str] = Counter()  # by outcome: ok, 429, 500, malformed, timeout
        self.bodies: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.forced: list[str] = []  # outcomes to serve next, in order, before random faults
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def _refusal(self, body: dict, authorization: str | None) -> tuple[int, str] | None:
        """A hosted API's refusal of the request (status, message), if a switch asks for one."""
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            return 401, "Incorrect API key provided. You can find your API key at https://example.com/api-keys."
        if self.models is not None and body.get("model") not in self.models:
            return 404, f"The model `{body.get('model')}` does not exist or you do not have access to it."
        if self.refuse_json_schema and (body.get("response_format") or {}).get("type") == "json_schema":
            name = body["response_format"].get("json_schema", {}).get("name", "answer")
            return 400, (f"Invalid schema for response_format '{name}': In context=(), 'prefixItems', 'const' and "
                         "'maxLength' are not permitted when strict is true.")
        return None

    def _outcome(self) -> str:
        with self._lock:
            if self.forced:
                return self.forced.pop(0)
            if self.fault_rate and self.random.random() < self.fault_rate:
                return self.random.choice(self.faults)
            return "ok"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, payload: dict | str, headers: dict | None = None):
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    return self._send(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
                self._send(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": "not found"}})
                refused = server._refusal(body, self.headers.get("Authorization"))
                if refused is not None:
                    with server._lock:
                        server.requests[str(refused[0])] += 1
                        server.bodies.append(body)
                    return self._send(refused[0], {"error": {"message": refused[1], "type": "invalid_request_error"}})
                outcome = server._outcome()
                with server._lock:
                    server.requests[outcome] += 1
                    server.bodies.append(body)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.latency_s)
                    if outcome == "429":
                        return self._send(429, {"error": {"message": "rate limited", "type": "rate_limit"}},
                                          {"Retry-After": server.retry_after})
                    if outcome == "500":
                        return self._send(500, {"error": {"message": "internal error"}})
                    if outcome == "timeout":
                        time.sleep(server.timeout_sleep_s)
                    if outcome == "quota":  # OpenAI's answer when the account has no credit left
                        quota = "You exceeded your current quota, please check your plan and billing details."
                        return self._send(429, {"error": {"message": quota, "type": "insufficient_quota",
                                                          "code": "insufficient_quota"}})
                    if outcome == "400":
                        return self._send(400, {"error": {"message": "Invalid request",
                                                          "type": "invalid_request_error"}})
                    if outcome == "context":
                        return self._send(400, {"error": {"message": "This model's maximum context length is "
                                                          "4096 tokens", "code": "context_length_exceeded"}})
                    content = "Sure! Here is {the cleaned" if outcome == "malformed" else server.responder(body)
                    finish = "stop"
                    if outcome == "length":
                        content, finish = content[: len(content) // 2], "length"
                    elif server.honour_max_tokens and len(content) > 4 * body.get("max_tokens", len(content)):
                        content, finish = content[: 4 * body["max_tokens"]], "length"
                    prompt_chars = sum(len(m.get("content") or "") for m in body.get("messages", []))
                    self._send(200, {
                        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                        "model": body.get("model", "fake-model"),
                        "choices": [{"index": 0, "finish_reason": finish,
                                     "message": {"role": "assistant", "content": content}}],
                        "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(content) // 4,
                                  "total_tokens": prompt_chars // 4 + len(content) // 4},
                    })
                finally:
                    with server._lock:
                        server.in_flight -= 1

        return Handler

    def __enter__(self) -> "FakeOpenAI":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
