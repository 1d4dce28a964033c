"""Benchmark: the download stage against bare yt-dlp on the sample channel, same machine, same run.

    uv run python bench/download.py [--repeat 3]

Baseline: one `YoutubeDL.download([feed])` with the same format and a `duration > 60` match filter
(the stage's shorts rule), into an empty directory. The stage runs cold (empty cache and runs dir),
warm (`--force` on a filled cache: a new listing, no media), and current (same inputs: no work).
Prints median wall times and the ratios against the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yt_dlp
import yaml
from yt_dlp.utils import match_filter_func

from tube2lora_demo.sample_channel.server import SampleChannelServer
from tube2lora_download.cli import SPEC
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.logs import setup_logging


def bare_ytdlp(feed: str, out: Path) -> None:
    params = {"format": "bestaudio/best", "outtmpl": str(out / "%(id)s.%(ext)s"), "quiet": True,
              "no_warnings": True, "noprogress": True, "ignoreerrors": True, "retries": 0,
              "match_filter": match_filter_func("duration > 60")}
    with yt_dlp.YoutubeDL(params) as ydl:
        ydl.download([feed])


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import logging

    setup_logging("bench")
    logging.getLogger("tube2lora").setLevel(logging.WARNING)
    times: dict[str, list[float]] = {"bare yt-dlp": [], "stage cold": [], "stage warm (--force)": [],
                                     "stage current": []}
    with SampleChannelServer() as server:
        feed = f"{server.base_url}/feed.xml"
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                times["bare yt-dlp"].append(timed(lambda: bare_ytdlp(feed, tmp / "bare")))
                recipe = tmp / "r.yaml"
                recipe.write_text(yaml.safe_dump({"paths": {"runs_dir": "runs"}, "input": {"urls": [feed]},
                                                  "download": {"retries": 0, "attempts": 1}}))
                for label, force in (("stage cold", False), ("stage warm (--force)", True),
                                     ("stage current", False)):
                    times[label].append(timed(lambda: run_stage(SPEC, recipe, force=force)))
    base = statistics.median(times["bare yt-dlp"])
    print(f"sample channel: 8 episodes + 1 short + 1 dead entry, {args.repeat} repeats, median wall time")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"  {label:<22} {median:7.3f} s   {median / base:5.2f}x bare yt-dlp")


if __name__ == "__main__":
    main()
