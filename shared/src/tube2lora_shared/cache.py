"""The cross-run cache: expensive item results, keyed by what produced them.

Layout: `<cache>/<namespace>/<key[:2]>/<key>/` holding `entry.json` and any files. An entry is
published by renaming a finished staging directory into place, so a half-written entry is never read.
`staging(namespace, key)` is a stable per-key scratch directory: a tool that resumes partial files
(yt-dlp's `.part`) picks up where a killed run stopped.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from .files import write_text_atomic
from .hashing import sha256_json


class Cache:
    def __init__(self, root: Path):
        self.root = root

    @staticmethod
    def key(*parts: Any) -> str:
        return sha256_json(parts)

    def entry_dir(self, namespace: str, key: str) -> Path:
        return self.root / namespace / key[:2] / key

    def staging(self, namespace: str, key: str) -> Path:
        path = self.root / ".staging" / namespace / key
        path.mkdir(parents=True, exist_ok=True)
        return path

    def get(self, namespace: str, key: str) -> dict | None:
        """The entry's metadata, or None when absent (or when a file it lists has gone missing)."""
        entry = self.entry_dir(namespace, key)
        try:
            meta = json.loads((entry / "entry.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if any(not (entry / name).is_file() for name in meta.get("files", [])):
            return None
        return meta

    def put(self, namespace: str, key: str, meta: dict, files: dict[str, Path] | None = None) -> Path:
        """Publish an entry: `files` (name -> source path) are moved in, `entry.json` written last."""
        entry = self.entry_dir(namespace, key)
        stage = entry.parent / f".{key}.{os.getpid()}.tmp"
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        for name, source in (files or {}).items():
            shutil.move(str(source), stage / name)
        write_text_atomic(stage / "entry.json", json.dumps({**meta, "files": sorted(files or {})}, indent=1))
        if entry.exists():
            old = entry.parent / f".{key}.{os.getpid()}.old"
            entry.rename(old)
            stage.rename(entry)
            shutil.rmtree(old, ignore_errors=True)
        else:
            stage.rename(entry)
        return entry

    def drop(self, namespace: str, key: str) -> None:
        shutil.rmtree(self.entry_dir(namespace, key), ignore_errors=True)
