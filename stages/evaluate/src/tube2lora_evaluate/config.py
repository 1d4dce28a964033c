"""The `evaluate` config section."""

from __future__ import annotations

from pydantic import Field

from tube2lora_shared.config import Section


class EvaluateConfig(Section):
    max_chats: int = Field(50, ge=1)  # held-out conversations scored (and prompted)
    max_new_tokens: int = Field(96, ge=8)  # generation length for the style comparison (greedy)
    window_tokens: int = Field(512, ge=32)  # transcript perplexity is computed in windows of this size
    samples: int = Field(5, ge=0)  # side-by-side samples in the report
    phrase_words: list[int] = Field(default_factory=lambda: [3, 4, 5])  # signature phrase lengths
    phrase_min_videos: int = Field(2, ge=1)  # a signature phrase recurs in at least this many training videos
    phrase_top: int = Field(25, ge=1)
    judge: bool = False  # ask the llm section's endpoint which answer sounds more like the creator
    judge_model: str | None = None  # null: llm.model
    judge_samples: int = Field(20, ge=1)
