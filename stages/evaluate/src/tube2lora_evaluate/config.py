"""The `evaluate` config section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tube2lora_shared.config import Section


class EvaluateConfig(Section):
    max_chats: int = Field(50, ge=1)  # held-out own_words questions answered (and talk_as_creator chats scored)
    # real: each answer may run as long as the creator's real answer to that question (its tokens), at most
    # max_new_tokens, so phrase rates, Delta and repetition compare like with like; fixed: always max_new_tokens
    answer_length: Literal["real", "fixed"] = "real"
    max_new_tokens: int = Field(384, ge=8)  # the longest answer base and adapter may give
    # How base and adapter answer (both alike, as a chat would): sampled, each question with its own seed, so the
    # answers repeat from run to run; temperature 0 is greedy decoding, which loops on small models.
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.9, gt=0, le=1)
    repetition_penalty: float = Field(1.1, ge=1, le=2)
    seed: int = 0
    device: Literal["auto", "cuda", "cpu"] = "auto"  # as train.device: where base and adapter are loaded
    cpu_max_params: int = Field(1_000_000_000, ge=0)  # larger models are refused on the CPU unless device: cpu
    window_tokens: int = Field(512, ge=32)  # transcript perplexity is computed in windows of this size
    samples: int = Field(5, ge=0)  # side-by-side samples in the report
    phrase_words: list[int] = Field(default_factory=lambda: [3, 4, 5])  # signature phrase lengths
    phrase_min_videos: int = Field(2, ge=1)  # a signature phrase recurs in at least this many training videos
    phrase_top: int = Field(25, ge=1)
    copy_ngram: int = Field(8, ge=3)  # answer words inside word runs this long found in training text are copied
    delta_words: int = Field(50, ge=5)  # Burrows' Delta over the training text's most frequent words
    judge: bool = False  # ask the llm section's endpoint which answer is the real creator
    judge_model: str | None = None  # null: llm.model
    judge_samples: int = Field(20, ge=1)
