"""Stand-in upstream stages for contract tests and benchmarks: publish `stages/<stage>/` for a recipe's run
from given records, through the real lifecycle (manifest last, hashes, counts), so a stage under test or
measurement reads its upstream directory exactly as in a real run."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel

from tube2lora_shared.config import Section, load_config
from tube2lora_shared.documents import FetchSettings
from tube2lora_shared.hashing import sha256_file
from tube2lora_shared.jsonl import write_jsonl
from tube2lora_shared.lifecycle import run_stage
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.pipeline import StageSpec, spec_of
from tube2lora_shared.records import Video
from tube2lora_shared.rundir import RunDir


class AnySection(Section):
    """Whatever the recipe's section holds: a stand-in does not interpret it."""

    model_config = {"extra": "allow", "frozen": True}


def publish_download(recipe: Path, items: list[tuple[Video, Path | None]],
                     fetch_settings: FetchSettings | None = None) -> None:
    """Publish `stages/download/` for the recipe's run: each Video with its media file (or none), and the
    fetch settings on-demand audio reads (when given)."""

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
        if fetch_settings is not None:
            fetch_settings.write(ctx.out_dir)

    spec = StageSpec(name="download", package="tube2lora-download", section=AnySection, run=run)
    assert run_stage(spec, recipe) == 0


def publish_records(recipe: Path, stage: str, filename: str, records: list, package: str = "tube2lora-shared",
                    files: dict[str, str] | None = None) -> None:
    """Publish `stages/<stage>/<filename>` holding the given records (and only the other `files`, name ->
    text) for the recipe's run, through the real lifecycle, publishing empty upstream stages first where
    they are missing."""
    upstream = spec_of(stage).upstream
    for up in upstream:
        if read_manifest(RunDir.for_config(load_config(recipe)).stage_dir(up)) is None:
            publish_records(recipe, up, "placeholder.jsonl", [])

    def run(ctx):
        for record in records:
            ctx.record(getattr(record, "id", str(len(ctx.items))), getattr(record, "status", "success"))
        write_jsonl(ctx.out_dir / filename, [r for r in records if isinstance(r, BaseModel)])
        for name, text in (files or {}).items():
            (ctx.out_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (ctx.out_dir / name).write_text(text)

    assert run_stage(StageSpec(name=stage, package=package, section=AnySection, run=run, upstream=upstream), recipe) == 0
