"""What tests (and benchmarks) share besides fixtures: the repo root, the sample channel's modules,
privilege drops, and a stand-in download stage that publishes a given `stages/download/` through the
real lifecycle, so a stage's contract test builds its upstream directory from a fixture."""

from __future__ import annotations

import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

from tube2lora_download.config import DownloadConfig
from tube2lora_shared.hashing import sha256_file
from tube2lora_shared.jsonl import write_jsonl
from tube2lora_shared.lifecycle import StageSpec, run_stage
from tube2lora_shared.records import Video

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "sample_channel"))

from server import SampleChannelServer  # noqa: E402,F401


@contextmanager
def as_unprivileged():
    """Drop to `nobody` for real permission checks when the tests run as root (CI does)."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def publish_download(recipe: Path, items: list[tuple[Video, Path | None]]) -> None:
    """Publish `stages/download/` for the recipe's run: each Video with its media file (or none), and
    the default fetch settings (what on-demand audio reads)."""

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
        ctx.section.fetch_settings().write(ctx.out_dir)

    spec = StageSpec(name="download", package="tube2lora-download", section=DownloadConfig, run=run)
    assert run_stage(spec, recipe) == 0


def video(vid: str, **fields) -> Video:
    return Video(id=vid, url=f"https://www.youtube.com/watch?v={vid}", title=f"title of {vid}",
                 extractor=fields.pop("extractor", "Youtube"), archive_id=f"youtube {vid}", status="success",
                 **fields)


def publish_records(recipe: Path, stage: str, filename: str, records: list, package: str = "tube2lora-shared",
                    files: dict[str, str] | None = None) -> None:
    """Publish `stages/<stage>/<filename>` holding the given records (and only the other `files`, name ->
    text) for the recipe's run, through the real lifecycle, publishing empty upstream stages first where
    they are missing."""
    from pydantic import BaseModel

    from tube2lora_shared.config import Section, load_config
    from tube2lora_shared.manifest import read_manifest
    from tube2lora_shared.pipeline import spec_of
    from tube2lora_shared.rundir import RunDir

    class AnySection(Section):
        model_config = {"extra": "allow", "frozen": True}

    upstream = spec_of(stage).upstream
    for up in upstream:
        if read_manifest(RunDir.for_config(load_config(recipe)).stage_dir(up)) is None:
            publish_records(recipe, up, "placeholder.jsonl", [])

    def run(ctx):
        for record in records:
            ctx.record(getattr(record, "id", str(len(ctx.items))), getattr(record, "status", "success"))
        write_jsonl(ctx.out_dir / filename, [r for r in records if isinstance(r, BaseModel)])
        for name, text in (files or {}).items():
            (ctx.out_dir / name).write_text(text)

    assert run_stage(StageSpec(name=stage, package=package, section=AnySection, run=run, upstream=upstream), recipe) == 0
