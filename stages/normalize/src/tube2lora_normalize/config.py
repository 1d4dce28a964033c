"""The `normalize` config section."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from tube2lora_shared.config import Section


class NormalizeConfig(Section):
    enabled: bool = True  # false: transcripts pass through unchanged, later stages still work
    model: str | None = None  # overrides llm.model for this stage
    prompt_file: Path | None = None  # a prompt template (configs/prompts/normalize.yaml)
    target_chars: int = Field(1500, ge=100)  # chunks grow segment by segment up to about this size
    max_chars: int = Field(2500, ge=100)  # and never beyond this (long segments are split)
    overlap_chars: int = Field(300, ge=0)  # preceding text shown to the model as context, not rewritten
    temperature: float = Field(0.2, ge=0, le=2)
    min_similarity: float = Field(0.55, ge=0, le=1)  # voice guard: word-level similarity to the source...
    min_length_ratio: float = Field(0.6, gt=0)  # ...and cleaned/source word-count bounds
    max_length_ratio: float = Field(1.25, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> "NormalizeConfig":
        if self.max_chars < self.target_chars:
            raise ValueError("max_chars is smaller than target_chars")
        if self.min_length_ratio > self.max_length_ratio:
            raise ValueError("min_length_ratio is larger than max_length_ratio")
        if self.enabled and self.prompt_file is None:
            raise ValueError("prompt_file is required when the stage is enabled (configs/prompts/normalize.yaml)")
        return self
