"""The `filter` config section. Every gate can be switched off with null (or false)."""

from __future__ import annotations

from pydantic import Field

from tube2lora_shared.config import Section


class FilterConfig(Section):
    enabled: bool = True  # false: every video is kept as it is, reports are empty
    language: bool = True  # identified language (and the transcript's) must be in input.languages
    min_language_probability: float | None = Field(0.5, ge=0, le=1)
    min_words: int | None = Field(150, ge=0)
    min_tokens: int | None = Field(200, ge=0)  # target tokenizer
    min_quality: float | None = Field(0.4, ge=0, le=1)
    min_normalize_ratio: float | None = Field(0.6, ge=0)  # words after / before normalize
    max_normalize_ratio: float | None = Field(1.3, ge=0)
    min_normalize_similarity: float | None = Field(0.5, ge=0, le=1)
    # Transcript confidence. An English-only whisper given other speech returns a few confident-looking
    # English sentences (measured: mean avg_logprob -1.07 vs -0.28, 25 words in 68 s); text language id
    # then says "en". These two gates catch it.
    min_mean_logprob: float | None = Field(-0.8, le=0)
    min_words_per_minute: float | None = Field(60.0, ge=0)
    dedup: bool = True  # MinHash LSH near-duplicates
    dedup_threshold: float = Field(0.7, gt=0, le=1)  # Jaccard similarity of word shingles
    boilerplate: bool = True  # sentences recurring across videos (intros, outros, sponsor reads)
    boilerplate_min_videos: int = Field(3, ge=2)
    boilerplate_min_share: float = Field(0.3, ge=0, le=1)  # ...and in at least this share of kept videos
    boilerplate_min_words: int = Field(4, ge=1)  # shorter sentences ("No drama.") are style, not boilerplate
    boilerplate_keep_rate: float = Field(0.25, ge=0, le=1)  # a sign-off stays in this share of videos
