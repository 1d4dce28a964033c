"""What tests share besides fixtures: the repo root, the sample channel's modules, privilege drops."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

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
