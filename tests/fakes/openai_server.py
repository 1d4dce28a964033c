"""A loopback OpenAI-compatible server for tests and benchmarks: deterministic answers, request
counting, and injectable trouble (429 with Retry-After, 500, malformed output, slow answers).

    with FakeOpenAI(latency_s=0.2, fault_rate=0.3) as llm:
        ... llm.base_url ... llm.requests ...

The default answer cleans the text found between <transcript> and </transcript> in the latest user
message holding one (drops um/uh fillers and repeated words), as JSON {"text": ...} when a response_format was
sent and between <<<CLEAN>>> / <<<END>>> otherwise. Pass `responder(body) -> str` for other prompts.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


class FakeOpenAI:
    def __init__(self, responder=clean_transcript, latency_s: float = 0.0, fault_rate: float = 0.0,
                 faults: tuple[str, ...] = ("429", "500", "malformed", "timeout"), timeout_sleep_s: float = 2.0,
                 seed: int = 7, retry_after: str = "1", port: int = 0):
        self.responder = responder
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
                    if outcome == "context":
                        return self._send(400, {"error": {"message": "This model's maximum context length is "
                                                          "4096 tokens", "code": "context_length_exceeded"}})
                    content = "Sure! Here is {the cleaned" if outcome == "malformed" else server.responder(body)
                    prompt_chars = sum(len(m.get("content") or "") for m in body.get("messages", []))
                    self._send(200, {
                        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                        "model": body.get("model", "fake-model"),
                        "choices": [{"index": 0, "finish_reason": "stop",
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
