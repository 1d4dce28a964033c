"""ffprobe: the duration of a downloaded file when the listing did not say."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def media_seconds(path: Path) -> float | None:
    if shutil.which("ffprobe") is None:
        return None
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True,
    )
    try:
        return round(float(result.stdout.strip()), 2)
    except ValueError:
        return None
