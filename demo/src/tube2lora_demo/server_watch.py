"""Watch a served LLM server while a command runs; if it dies, say so in a status file the LLM client reads.

The supervisor (`tube2lora-demo serve`) exports STATUS_ENV to the command: the path of a JSON file that
exists only once the server it started has exited unexpectedly:

    {"what": "llama.cpp server (SmolLM2-135M-Instruct)", "pid": 1234, "returncode": -11, "signal": "SIGSEGV",
     "log": "/abs/path/llm-server.log", "log_tail": ["...", "..."]}

On a connection error the LLM client (tube2lora_shared.llm) reads it and reports the server's death
instead of "is the server running?". A stale file is removed when watching starts.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Callable

STATUS_ENV = "TUBE2LORA_LLM_SERVER_STATUS"
STATUS_NAME = "llm-server.status.json"


def write_status(path: Path, death: dict) -> None:
    """Write the file atomically: a reader sees all of it or nothing."""
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_text(json.dumps(death, indent=2) + "\n", encoding="utf-8")
    os.replace(part, path)


class ServerWatch:
    """Poll `died()` (None while the server runs, its death as a dict after) every `interval_s` in a thread."""

    def __init__(self, died: Callable[[], dict | None], status_file: Path, interval_s: float = 0.5):
        self.died, self.status_file, self.interval_s = died, status_file, interval_s
        self.death: dict | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="llm-server-watch", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s) and not self._check():
            pass

    def _check(self) -> bool:
        if self.death is None and (death := self.died()):
            self.death = death
            write_status(self.status_file, death)
        return self.death is not None

    def __enter__(self) -> ServerWatch:
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        self.status_file.unlink(missing_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._check()  # a death in the last interval before the command ended
