"""Bench helper: a run whose `stages/download/` lists the sample episodes, published through the real
lifecycle by a stand-in download stage (so benchmarks time only the stage they measure)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tube2lora_download.config import DownloadConfig
from tube2lora_shared.hashing import sha256_file
from tube2lora_shared.jsonl import write_jsonl
from tube2lora_shared.lifecycle import StageSpec, run_stage
from tube2lora_shared.records import Video


def publish(directory: Path, media_dir: Path, ids: list[str]) -> Path:
    recipe = directory / "bench.yaml"
    recipe.write_text(yaml.safe_dump({"paths": {"runs_dir": str(directory / "runs")},
                                      "transcribe": {"prefer": "whisper", "whisper": {"model": None}}}))

    def run(ctx):
        videos = []
        for vid in ids:
            target, relative = ctx.artifact(f"{vid}.opus")
            shutil.copyfile(media_dir / f"{vid}.opus", target)
            videos.append(Video(id=vid, url=f"file://{vid}", extractor="Generic", archive_id=f"generic {vid}",
                                status="success", media_path=relative, media_sha256=sha256_file(target)))
            ctx.record(vid, "success")
        write_jsonl(ctx.out_dir / "videos.jsonl", videos)

    spec = StageSpec(name="download", package="tube2lora-download", section=DownloadConfig, run=run)
    assert run_stage(spec, recipe) == 0
    return recipe
