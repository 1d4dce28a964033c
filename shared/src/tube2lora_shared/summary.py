"""A run's headline: where its products are and what they amount to, read from what the stages wrote.

Used by `tube2lora summary` (and `make demo` at its end). Each stage contributes its own lines (its
StageSpec's `summary`, given the run and its manifest); missing stages are shown as not finished, so
the summary of a half-finished run says how far it got. The helpers here keep the lines alike.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .documents import D
from .errors import StageError
from .manifest import read_manifest
from .pipeline import stages
from .rundir import RunDir


def summary_lines(run: RunDir) -> list[str]:
    lines = [f"run {run.id}: {show_path(run.root)}"]
    manifests = {name: read_manifest(run.stage_dir(name)) for name in stages()}
    missing = [name for name, manifest in manifests.items() if manifest is None]
    if missing:
        lines.append(f"  not finished: {', '.join(missing)}")
    for name, spec in stages().items():
        if manifests[name] is not None:
            lines += [f"  {line}" for line in spec.summary_lines(run, manifests[name])]
    return lines


def find_document(document: type[D], stage_dir: Path) -> D | None:
    """A stage's document, or None when it is missing or unreadable: a summary never fails."""
    try:
        return document.find(stage_dir)
    except StageError:
        return None


def reasons(counts: dict[str, int], prefix: str) -> str:
    """`dropped_short: 2, dropped_private: 1` (prefix "dropped_") as "short 2, private 1", most first."""
    found = sorted(((k[len(prefix):], v) for k, v in counts.items() if k.startswith(prefix) and v),
                   key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{name} {n}" for name, n in found)


def show_path(path: Path) -> str:
    """Relative to the current directory when inside it, else absolute."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "n/a"
