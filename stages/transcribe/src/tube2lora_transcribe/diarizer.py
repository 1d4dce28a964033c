"""Diarization of one video's audio through the cache: windows of its speech, a voice embedding per window,
voices. Cached by (audio sha256, encoder, settings, speech spans), so a re-run, a new run directory or a
changed creator threshold embeds nothing again; the creator is decided later, across the channel."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tube2lora_shared.cache import Cache
from tube2lora_shared.errors import StageError
from tube2lora_shared.hashing import sha256_file
from tube2lora_shared.records import Segment

from .config import DiarizationConfig
from .speakers import Diarization, Span, diarize, windows
from .voices import SAMPLE_RATE, VoiceEncoder

NAMESPACE = "transcribe/speakers"
VERSION = 1  # of the windows, mel frames and clustering here: raise it when they change, so the cache is not reused
MIN_WINDOW = 1.0  # seconds: shorter remainders join the window before them


def _audio(path: Path) -> np.ndarray:
    from faster_whisper import decode_audio

    return decode_audio(str(path), sampling_rate=SAMPLE_RATE)


class Diarizer:
    def __init__(self, encoder: VoiceEncoder, cfg: DiarizationConfig, cache: Cache):
        self.encoder, self.cfg, self.cache = encoder, cfg, cache
        self.seconds = 0.0  # wall time spent embedding and clustering in this run (cache misses only)

    def settings(self) -> dict:
        return {"diarizer": VERSION, "encoder": self.encoder.identity(), "window_seconds": self.cfg.window_seconds,
                "same_voice": self.cfg.same_voice, "min_voice_seconds": self.cfg.min_voice_seconds}

    def diarize(self, media: Path, sha256: str, segments: list[Segment]) -> tuple[Diarization, bool]:
        """(the video's voices, whether they came from the cache)."""
        spans = windows([(s.start, s.end) for s in segments], self.cfg.window_seconds, MIN_WINDOW)
        key = Cache.key("speakers", sha256, self.settings(), spans)
        hit = self.cache.get(NAMESPACE, key)
        if hit is not None:
            return Diarization.from_json(hit["diarization"]), True
        started = time.monotonic()
        found = diarize(spans, self._embed(_audio(media), spans), self.cfg.same_voice,
                       self.cfg.min_voice_seconds)
        self.seconds += time.monotonic() - started
        self.cache.put(NAMESPACE, key, {"diarization": found.to_json()})
        return found, False

    def _embed(self, audio: np.ndarray, spans: list[Span]) -> np.ndarray:
        clips = [audio[int(s * SAMPLE_RATE):int(e * SAMPLE_RATE)] for s, e in spans]
        return self.encoder.embed(clips)

    def reference(self, clip: Path) -> np.ndarray:
        """The creator's voiceprint from a clip of them alone (transcribe.creator_voice_file), cached by its hash."""
        if not clip.is_file():
            raise StageError(f"transcribe.creator_voice_file: {clip} does not exist; point it at a clip of the creator "
                             "speaking alone, or remove the key")
        key = Cache.key("voiceprint", sha256_file(clip), self.settings())
        hit = self.cache.get(NAMESPACE, key)
        if hit is None:
            try:
                audio = _audio(clip)
            except Exception as exc:
                raise StageError(f"transcribe.creator_voice_file: {clip} cannot be decoded ({type(exc).__name__})") from None
            spans = windows([(0.0, len(audio) / SAMPLE_RATE)], self.cfg.window_seconds, MIN_WINDOW)
            if not spans:
                raise StageError(f"transcribe.creator_voice_file: {clip} is too short; give at least 5 s of the creator")
            mean = self._embed(audio, spans).mean(axis=0)
            hit = {"voiceprint": [float(v) for v in mean / np.linalg.norm(mean)]}
            self.cache.put(NAMESPACE, key, hit)
        return np.array(hit["voiceprint"])
