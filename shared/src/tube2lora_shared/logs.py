"""Logging: stderr plus the run's logs/pipeline.log, third-party loggers routed into both."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

THIRD_PARTY = ("yt_dlp", "faster_whisper", "transformers", "peft", "trl", "openai", "httpx")
FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

console = Console(stderr=True)
log = logging.getLogger("tube2lora")


def setup_logging(stage: str, log_file: Path | None = None, verbose: bool = False) -> logging.Logger:
    """Configure tube2lora's and third-party loggers once per process; return the stage's logger."""
    level = logging.DEBUG if verbose else logging.INFO
    handlers: list[logging.Handler] = []
    if console.is_terminal:
        handlers.append(RichHandler(console=console, show_path=False, markup=False, log_time_format="%X"))
    else:
        plain = logging.StreamHandler(sys.stderr)
        plain.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        handlers.append(plain)
    for handler in handlers:
        handler.setLevel(level)
        if not verbose:  # other libraries' chatter (faster-whisper's progress...) stays in the file
            handler.addFilter(lambda r: r.name.startswith("tube2lora") or r.levelno >= logging.WARNING)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(logging.Formatter(FILE_FORMAT))
        to_file.setLevel(logging.DEBUG)
        handlers.append(to_file)
    for name in ("tube2lora", *THIRD_PARTY):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
            old.close()
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
    return logging.getLogger(f"tube2lora.{stage}")
