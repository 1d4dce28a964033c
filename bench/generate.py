"""Benchmark: generate with `llm.concurrency: 8` against `concurrency: 1`, a gate-only re-run, yields.

    uv run python bench/generate.py [--videos 6] [--latency 0.2]

The loopback fake OpenAI-compatible server answers after `--latency` seconds. Each video holds 4
chunks; both generators run (one chat and one edit per chunk). After a warm-up, each concurrency runs
twice, alternating, from an empty response cache; the medians give the speedup (target >= 5.6x).
Then a recipe that changes only gate thresholds runs in a new run directory: its requests (target 0)
and the yield (accepted / attempted) per generator are printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from tube2lora_demo.fake_llm import FakeOpenAI
from tube2lora_demo.stage_fixtures import publish_records
from tube2lora_generate.cli import SPEC
from tube2lora_shared.config import load_config
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.records import Chunk, Kept, Normalized, Video
from tube2lora_shared.rundir import RunDir

REPO = Path(__file__).resolve().parent.parent

TEXT = ("Alright, grease monkeys, Toby here. Here's the thing about tubeless tyres: they are brilliant and "
        "messy. You need tubeless ready rims, tubeless ready tyres, rim tape that seals every spoke hole, valves "
        "and sealant. Tape first, pull it tight, overlap it at the valve. Mount the tyre, pour in the sealant, "
        "seat the bead with a charger tank, listen for the two loud pops. No drama. Slow is smooth.")


def recipe(tmp: str, name: str, server: FakeOpenAI, concurrency: int, videos: int, gates: dict | None = None) -> Path:
    path = Path(tmp) / f"{name}.yaml"
    prompts = REPO / "configs" / "prompts"
    path.write_text(yaml.safe_dump({
        "paths": {"runs_dir": f"{tmp}/runs", "cache_dir": f"{tmp}/cache-{name.split('-')[0]}"},
        "pipeline": {"run_name": name},
        "llm": {"base_url": server.base_url, "model": "fake-model", "concurrency": concurrency},
        "generate": {"creator": "Toby Fenwick", "own_words": {"enabled": False},
                     "talk_as_creator": {"enabled": True, "prompt_file": str(prompts / "talk_as_creator.yaml"),
                                         **(gates or {})},
                     "editorial_rewrite": {"enabled": True, "prompt_file": str(prompts / "editorial_rewrite.yaml")}}}))
    chunks = [Chunk(index=c, start=c * 30.0, end=c * 30.0 + 29, source=TEXT, text=f"{TEXT} (part {c})")
              for c in range(4)]
    normalized = [Normalized(id=f"v{i}", title=f"Tubeless {i}", channel="Fenwick Fixes Bikes", status="success",
                             text=" ".join(c.text for c in chunks), chunks=chunks) for i in range(videos)]
    publish_records(path, "download", "videos.jsonl", [Video(id=n.id, url="x", status="success") for n in normalized])
    publish_records(path, "normalize", "normalized.jsonl", normalized)
    publish_records(path, "filter", "kept.jsonl", [Kept(id=n.id, text=n.text, words=80) for n in normalized])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)
    times: dict[int, list[float]] = {1: [], 8: []}
    with FakeOpenAI(latency_s=args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        for n, concurrency in enumerate((8, 1, 8, 1, 8)):
            path = recipe(tmp, f"r{n}-c{concurrency}", server, concurrency, args.videos)
            start = time.perf_counter()
            assert run_stage(SPEC, path) == 0
            if n:
                times[concurrency].append(time.perf_counter() - start)
        last = path
        before = server.total
        regate = recipe(tmp, "r4-regate", server, 8, args.videos, {"gates": {"max_copy_share": 0.2,
                                                                              "min_answer_words": 30}})
        assert run_stage(SPEC, regate) == 0
        regate_requests = server.total - before
        dataset = json.loads((RunDir.for_config(load_config(last)).stage_dir("generate") /
                              "dataset_manifest.json").read_text())
    median = {c: statistics.median(t) for c, t in times.items()}
    tasks = args.videos * 4 * 2
    print(f"generate, {tasks} requests ({args.videos} videos x 4 chunks x 2 generators), fake server answering "
          f"in {args.latency * 1000:.0f} ms")
    print(f"  concurrency 1: {median[1]:6.2f} s (median of 2)")
    print(f"  concurrency 8: {median[8]:6.2f} s (median of 2)")
    print(f"speedup {median[1] / median[8]:.2f}x (target >= 5.6x); gate-only re-run in a new run directory: "
          f"{regate_requests} requests (target 0)")
    for name, summary in dataset["generators"].items():
        print(f"  yield {name}: {summary['accepted']}/{summary['attempted']} = {summary['yield']}")


if __name__ == "__main__":
    main()
