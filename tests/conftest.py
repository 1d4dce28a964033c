"""Shared fixtures: the loopback sample channel and recipe files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from harness import SampleChannelServer


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
