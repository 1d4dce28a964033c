"""What tests share besides fixtures: the repo root, privilege drops, Video records, and (from the demo
package, where benchmarks import them too) the sample channel server and the stand-in upstream stages that
publish a stage's directory through the real lifecycle, so a stage's contract test builds its upstream
directory from a fixture."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from tube2lora_demo.sample_channel.server import SampleChannelServer  # noqa: F401
from tube2lora_demo import stage_fixtures
from tube2lora_demo.stage_fixtures import publish_records  # noqa: F401
from tube2lora_download.config import DownloadConfig
from tube2lora_shared.config import load_config
from tube2lora_shared.records import Video

REPO = Path(__file__).resolve().parent.parent


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


def video(vid: str, **fields) -> Video:
    return Video(id=vid, url=f"https://www.youtube.com/watch?v={vid}", title=f"title of {vid}",
                 extractor=fields.pop("extractor", "Youtube"), archive_id=f"youtube {vid}", status="success",
                 **fields)


def publish_download(recipe: Path, items: list[tuple[Video, Path | None]]) -> None:
    """Publish `stages/download/` for the recipe's run: each Video with its media file (or none), and the
    fetch settings the recipe's download section gives (what on-demand audio reads)."""
    settings = load_config(recipe).section("download", DownloadConfig).fetch_settings()
    stage_fixtures.publish_download(recipe, items, fetch_settings=settings)
