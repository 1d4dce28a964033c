"""Media files for the transcribe stage's bad-input tests."""

from __future__ import annotations

import shutil
import subprocess

import pytest


@pytest.fixture(scope="session")
def media_samples(tmp_path_factory, sample_channel):
    """Good, silent, corrupt, truncated and empty media files."""
    out = tmp_path_factory.mktemp("media")
    good = sample_channel.media_dir / "short01-quick-tip.opus"
    shutil.copyfile(good, out / "good.opus")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
                    "-t", "6", "-c:a", "libopus", str(out / "silent.opus")], check=True)
    (out / "corrupt.opus").write_bytes(b"this is not audio at all " * 400)
    whole = (sample_channel.media_dir / "ep04-gear-indexing.opus").read_bytes()
    (out / "truncated.opus").write_bytes(whole[: len(whole) // 5])
    (out / "empty.opus").write_bytes(b"")
    return out
