"""The NVIDIA driver on this machine, read without CUDA (for the GPU stages' preflights)."""

from __future__ import annotations

import subprocess
from pathlib import Path

DRIVER_FILE = Path("/proc/driver/nvidia/version")


def nvidia_driver() -> str | None:
    """The NVIDIA kernel driver's version, when one is loaded (from /proc, else nvidia-smi), or None."""
    try:
        for word in DRIVER_FILE.read_text().split():
            if word[:1].isdigit() and "." in word:
                return word
    except OSError:
        pass
    found = _smi("driver_version")
    return found[0] if found else None


def gpu_names() -> list[str]:
    """The GPUs nvidia-smi lists, by name (empty without a driver)."""
    return _smi("name")


def _smi(field: str) -> list[str]:
    try:
        done = subprocess.run(["nvidia-smi", f"--query-gpu={field}", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()] if done.returncode == 0 else []
