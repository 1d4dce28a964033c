"""The `analyze` config section."""

from __future__ import annotations

from pydantic import Field

from tube2lora_shared.config import Section


class AnalyzeConfig(Section):
    enabled: bool = True  # false: profiles hold counts only (no quality score, no signature): filter still runs
    # the target model's tokenizer, from mistral-common's data: v1, v2, v3 (Mistral 7B v0.3), v7, tekken,
    # or a file name / path of a tokenizer file
    tokenizer: str = "v3"
    shingle_words: int = Field(5, ge=1)  # MinHash shingles: word n-grams
    num_perm: int = Field(128, ge=16)
