"""Benchmark: normalize with `llm.concurrency: 8` against `concurrency: 1`, same run, same data.

    uv run python bench/normalize.py [--chunks 48] [--latency 0.2]

The loopback fake OpenAI-compatible server (tube2lora_demo.fake_llm) answers every request after
`--latency` seconds, as a busy GPU server would. Each configuration starts from an empty response
cache. Prints wall times, the speedup (target >= 5.6x, 70% parallel efficiency) and the number of
requests a re-run of the finished stage makes (target 0).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from tube2lora_demo.fake_llm import FakeOpenAI
from tube2lora_demo.stage_fixtures import publish_records
from tube2lora_normalize.cli import SPEC
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.records import Segment, Transcript

REPO = Path(__file__).resolve().parent.parent


def transcripts(chunks: int) -> list[Transcript]:
    """Videos of 6 segments of ~230 chars: with target_chars 200 every segment is one chunk."""
    out = []
    for v in range(chunks // 6):
        segments = [Segment(start=i * 15.0, end=i * 15.0 + 14, text=f"Um, video {v} segment {i}: here's the thing, "
                            "you know, a dirty chain eats your cassette and your chainrings, and those cost "
                            "real money, so we clean it properly, no drama, slow is smooth.") for i in range(6)]
        out.append(Transcript(id=f"v{v}", title=f"Video {v}", status="success", segments=segments))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=48)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)
    times: dict[int, list[float]] = {1: [], 8: []}
    reruns = 0
    with FakeOpenAI(latency_s=args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        # warm-up (imports, tokenizer and dictionary loads), then each configuration twice, alternating
        for n, concurrency in enumerate((8, 1, 8, 1, 8)):
            recipe = Path(tmp) / f"r{n}.yaml"
            recipe.write_text(yaml.safe_dump({
                "paths": {"runs_dir": f"{tmp}/runs-{n}"},
                "llm": {"base_url": server.base_url, "model": "fake-model", "concurrency": concurrency},
                "normalize": {"prompt_file": str(REPO / "configs/prompts/normalize.yaml"),
                              "target_chars": 200, "max_chars": 400, "overlap_chars": 0}}))
            publish_records(recipe, "transcribe", "transcripts.jsonl", transcripts(args.chunks))
            before = server.total
            start = time.perf_counter()
            assert run_stage(SPEC, recipe) == 0
            if n:
                times[concurrency].append(time.perf_counter() - start)
            asked = server.total - before
            assert run_stage(SPEC, recipe, force=True) == 0
            reruns += server.total - before - asked
    median = {c: statistics.median(t) for c, t in times.items()}
    speedup = median[1] / median[8]
    print(f"normalize, {args.chunks} chunks, fake server answering in {args.latency * 1000:.0f} ms")
    print(f"  concurrency 1: {median[1]:6.2f} s (median of 2; {args.chunks} x {args.latency} s = "
          f"{args.chunks * args.latency:.1f} s of waiting)")
    print(f"  concurrency 8: {median[8]:6.2f} s (median of 2)")
    print(f"speedup {speedup:.2f}x (target >= 5.6x, parallel efficiency {speedup / 8:.0%}); "
          f"re-runs of the finished stage: {reruns} requests (target 0)")


if __name__ == "__main__":
    main()
