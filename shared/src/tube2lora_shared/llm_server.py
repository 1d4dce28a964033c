"""What the process that supervises a local LLM server reports when that server died.

The supervisor (`make demo`'s llama.cpp server) exports TUBE2LORA_LLM_SERVER_STATUS, the path of a JSON
file it writes only after the server process exited unexpectedly:

    {"what": "llama.cpp server (SmolLM2-135M-Instruct)", "pid": 4242, "returncode": -11,
     "signal": "SIGSEGV", "log": "/run/logs/llm-server.log", "log_tail": ["...", "..."]}

`ServerExit(...).write(path)` writes it. The LLM client reads it on a connection error, before waiting to retry: a dead server makes the whole
stage stop with one line that says so, instead of every item failing with "connection refused".
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ValidationError

from .files import write_text_atomic

STATUS_ENV = "TUBE2LORA_LLM_SERVER_STATUS"
TAIL_LINES = 5


class ServerExit(BaseModel):
    what: str = "the LLM server"
    pid: int | None = None
    returncode: int | None = None
    signal: str | None = None  # e.g. "SIGSEGV"; None when it exited with a status
    log: str | None = None
    log_tail: list[str] = []

    def describe(self, stage: str | None = None) -> str:
        """One line: that it died and how, during what, its log's last lines, what to do."""
        how = ", ".join(p for p in (self.signal, None if self.returncode is None else f"exit {self.returncode}") if p)
        line = f"the LLM server process died ({how or 'it exited'})" + (f" during {stage}" if stage else "")
        line += f" ({self.what}" + (f", pid {self.pid})" if self.pid is not None else ")")
        tail = [t.strip() for t in self.log_tail if t.strip()][-TAIL_LINES:]
        if tail:
            line += f"; last lines of its log {self.log or ''}: " + " | ".join(tail)
        elif self.log:
            line += f"; its log: {self.log}"
        return line + ("; see that log, then re-run" if self.log else "; re-run") + " (finished answers are cached)"

    def write(self, path: Path) -> None:
        """For the supervisor: publish the report atomically, so a reader never sees half of it."""
        write_text_atomic(path, self.model_dump_json(indent=1))


def server_exit() -> ServerExit | None:
    """The supervisor's report, when the environment names one that exists; None otherwise."""
    name = os.environ.get(STATUS_ENV)
    if not name or not Path(name).is_file():
        return None
    try:
        return ServerExit.model_validate(json.loads(Path(name).read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):  # half-written or malformed: the death is still the news
        return ServerExit(log=name)
