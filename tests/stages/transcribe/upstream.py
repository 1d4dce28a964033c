"""Transcribe tests build their upstream `stages/download/` with the real lifecycle: a stand-in
download stage that publishes given Video records and media files."""

from __future__ import annotations

import shutil
from pathlib import Path

from tube2lora_download.config import DownloadConfig
from tube2lora_shared.hashing import sha256_file
from tube2lora_shared.jsonl import write_jsonl
from tube2lora_shared.lifecycle import StageSpec, run_stage
from tube2lora_shared.records import Video


def publish_download(recipe: Path, items: list[tuple[Video, Path | None]]) -> None:
    """Publish `stages/download/` for the recipe's run: each Video with its media file (or none)."""

    def run(ctx):
        videos = []
        for video, media in items:
            if media is not None:
                target, relative = ctx.artifact(f"{video.id}{media.suffix}")
                shutil.copyfile(media, target)
                video = video.model_copy(update={"media_path": relative, "media_bytes": target.stat().st_size,
                                                 "media_sha256": sha256_file(target)})
            ctx.record(video.id, video.status)
            videos.append(video)
        write_jsonl(ctx.out_dir / "videos.jsonl", videos)

    spec = StageSpec(name="download", package="tube2lora-download", section=DownloadConfig, run=run)
    assert run_stage(spec, recipe) == 0


def video(vid: str, **fields) -> Video:
    return Video(id=vid, url=f"https://www.youtube.com/watch?v={vid}", title=f"title of {vid}",
                 extractor=fields.pop("extractor", "Youtube"), archive_id=f"youtube {vid}", status="success",
                 **fields)
