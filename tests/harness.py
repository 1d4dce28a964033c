"""What tests share besides fixtures: the repo root, privilege drops, Video records, and (from the demo
package, where benchmarks import them too) the sample channel server and the stand-in upstream stages that
publish a stage's directory through the real lifecycle, so a stage's contract test builds its upstream
directory from a fixture."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from tube2lora_demo.sample_channel.server import SampleChannelServer  # noqa: F401
from tube2lora_demo.stage_fixtures import publish_download, publish_records  # noqa: F401
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
