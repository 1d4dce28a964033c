"""A two-voice interview and a solo episode of the same creator, rendered with espeak-ng (speaker attribution's
fixture for tests and bench/speakers.py).

The host (an en-us male voice, low pitch) asks; the creator (an en-gb female voice, high pitch) answers at
length. `render(out)` writes `interview.opus` and `solo.opus` and returns, per episode, the script's turns with
their times in the audio (the truth that attribution is measured against). Rendered once per script and
voice settings: a second call costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import wave
from pathlib import Path

from tube2lora_demo.sample_channel.render import _require, media_seconds

VOICES = {"host": ["-v", "en-us+m3", "-p", "30", "-s", "165"], "creator": ["-v", "en-gb+f2", "-p", "75", "-s", "160"]}
PAUSE_SECONDS = 0.7
CREATOR, HOST = "creator", "host"

INTERVIEW = [
    (HOST, "Welcome back to the workshop hour. Today I am sitting down with a woodworker who builds furniture "
           "from old barn beams. Why did you start working with reclaimed wood in the first place?"),
    (CREATOR, "It started with my grandfather. When he retired he left me his workshop and a pile of oak beams "
              "from a barn that had stood for a hundred years. I could not bring myself to burn them, so I "
              "planed one down to see what was inside. The grain was tight and dark, nothing like the timber you "
              "buy today, and I was hooked from that first shaving. Old wood has already moved and settled, so "
              "a table made from it stays flat for the rest of your life."),
    (HOST, "What is the hardest part of working with beams that old?"),
    (CREATOR, "Metal. Every old beam hides nails, bolts and sometimes a horseshoe. One hidden nail will ruin a "
              "planer blade in a second, so I go over every board with a metal detector before it gets near a "
              "machine. The second hard part is patience. A beam that sat in a wet barn needs months in the shop "
              "before it is dry enough to cut, and if you rush it the joints open up in the first winter."),
    (HOST, "What would you tell someone who wants to build their first table this year?"),
    (CREATOR, "Buy one good chisel and learn to sharpen it before you buy anything else. A sharp chisel teaches "
              "you more about wood than any machine. Then build something small, like a stool, and make every "
              "mistake on that. Measure twice, cut once is true, but the real rule is to look at the grain "
              "before you cut at all, because the grain decides where the wood wants to split."),
]

SOLO = [
    (CREATOR, "Today I want to show you how I flatten a wide board by hand. First I check the board with two "
              "winding sticks to see where it twists. Then I plane across the grain at the high corners, taking "
              "thin shavings, and I check again after every few strokes. When the sticks line up, I switch to "
              "planing along the grain to clean up the surface. It takes an hour the first time, and fifteen "
              "minutes once your hands know the rhythm. The secret is a sharp blade and a light touch."),
]

EPISODES = {"interview": INTERVIEW, "solo": SOLO}


def _speak(voice: str, text: str, wav: Path) -> None:
    subprocess.run(["espeak-ng", *VOICES[voice], "-w", str(wav), text], check=True, capture_output=True)


def _join(parts: list[Path], target: Path) -> list[tuple[float, float]]:
    """Concatenate WAVs with a pause between them; return each part's (start, end) in seconds."""
    spans, frames, params = [], [], None
    at = 0.0
    for part in parts:
        with wave.open(str(part)) as w:
            params = params or w.getparams()
            data = w.readframes(w.getnframes())
            seconds = w.getnframes() / w.getframerate()
        if frames:
            frames.append(b"\0" * (int(PAUSE_SECONDS * params.framerate) * params.sampwidth))
            at += PAUSE_SECONDS
        frames.append(data)
        spans.append((round(at, 3), round(at + seconds, 3)))
        at += seconds
    with wave.open(str(target), "wb") as out:
        out.setparams(params)
        out.writeframes(b"".join(frames))
    return spans


def _render(turns: list[tuple[str, str]], target: Path) -> list[tuple[float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        parts = []
        for i, (voice, text) in enumerate(turns):
            parts.append(Path(tmp) / f"{i}.wav")
            _speak(voice, text, parts[-1])
        joined = Path(tmp) / "joined.wav"
        spans = _join(parts, joined)
        part = target.with_suffix(".opus.part")
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(joined), "-ac", "1", "-ar", "16000",
                        "-c:a", "libopus", "-b:a", "32k", "-map_metadata", "-1", "-fflags", "+bitexact", "-f", "ogg",
                        str(part)], check=True, capture_output=True)
        part.replace(target)
    return spans


def render(out: Path) -> dict[str, dict]:
    """{episode: {"file": Path, "seconds": float, "turns": [{"speaker", "text", "start", "end"}]}}."""
    out.mkdir(parents=True, exist_ok=True)
    found = {}
    for name, turns in EPISODES.items():
        digest = hashlib.sha256(json.dumps([turns, VOICES, PAUSE_SECONDS]).encode()).hexdigest()[:16]
        target, index = out / f"{name}.opus", out / f"{name}.json"
        cached = json.loads(index.read_text()) if index.is_file() else None
        if not (cached and cached["digest"] == digest and target.is_file()):
            _require("espeak-ng", "espeak-ng")
            _require("ffmpeg", "ffmpeg")
            spans = _render(turns, target)
            cached = {"digest": digest, "seconds": media_seconds(target),
                      "turns": [{"speaker": v, "text": t, "start": s, "end": e}
                                for (v, t), (s, e) in zip(turns, spans)]}
            index.write_text(json.dumps(cached, indent=1))
        found[name] = {"file": target, "seconds": cached["seconds"], "turns": cached["turns"]}
    return found
