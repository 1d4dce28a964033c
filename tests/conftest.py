"""Shared fixtures: the loopback sample channel, recipe files, and stage runs in-process."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "sample_channel"))

from server import SampleChannelServer  # noqa: E402


@pytest.fixture(scope="session")
def sample_channel():
    """The sample channel on a free loopback port for the whole session; request counts reset per test."""
    with SampleChannelServer() as server:
        yield server


@pytest.fixture
def channel(sample_channel):
    sample_channel.requests.clear()
    return sample_channel


@pytest.fixture
def recipe(tmp_path):
    """Write a recipe into tmp_path (runs under tmp_path/runs unless given) and return its path."""

    def write(name: str = "recipe.yaml", directory: Path | None = None, **sections) -> Path:
        directory = directory or tmp_path
        sections.setdefault("paths", {"runs_dir": "runs"})
        path = directory / name
        path.write_text(yaml.safe_dump(sections, sort_keys=False))
        return path

    return write


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
