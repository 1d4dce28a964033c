"""What a backend hands back: a raw transcript, or why it could not give one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tube2lora_shared.records import Segment, TranscriptSource


@dataclass
class RawTranscript:
    source: TranscriptSource
    language: str | None
    segments: list[Segment]
    model: str
    settings: dict[str, Any] = field(default_factory=dict)
    duration: float | None = None
    seconds: float = 0.0  # wall time spent producing it


class Unusable(Exception):
    """A backend could not transcribe this video; `status` says whether it is an error."""

    def __init__(self, reason: str, message: str, status: Literal["skipped", "failed"] = "skipped",
                 retryable: bool = False):
        super().__init__(message)
        self.reason, self.status, self.retryable = reason, status, retryable
