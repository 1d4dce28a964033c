"""The run lock: one process writes a run directory at a time.

An advisory `flock` on `<run>/.lock`; the kernel drops it when the holder exits, however it exits,
so a killed process never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .errors import StageError


class RunLock:
    def __init__(self, run_root: Path):
        self.path = run_root / ".lock"
        self._handle = None

    def __enter__(self) -> "RunLock":
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise StageError(
                f"run {self.path.parent.name} is locked by another tube2lora process (pid {holder}); "
                "wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
