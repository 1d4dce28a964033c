"""The run directory `runs/<run_id>/` and its bookkeeping file `run.json`.

    run.json                 per-stage status, counts, timings, last error
    config.yaml, files/      snapshot of the recipe and every file it references
    logs/pipeline.log        every stage's log, appended
    stages/<stage>/          outputs, metrics.jsonl, manifest.json (written last)
    artifacts/<stage>/       heavy files (media, checkpoints)
    .tmp/                    staging for a stage in progress; cleaned on the next start
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .config import Config
from .errors import UsageError
from .files import write_text_atomic
from .identity import run_id


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RunDir:
    def __init__(self, root: Path):
        self.root = root
        self.id = root.name

    @classmethod
    def for_config(cls, config: Config) -> "RunDir":
        return cls(config.runs_dir / run_id(config))

    def stage_dir(self, stage: str) -> Path:
        return self.root / "stages" / stage

    def artifacts_dir(self, stage: str) -> Path:
        return self.root / "artifacts" / stage

    @property
    def log_file(self) -> Path:
        return self.root / "logs" / "pipeline.log"

    @property
    def tmp(self) -> Path:
        return self.root / ".tmp"

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    def ensure(self, config: Config) -> None:
        """Create the directory and its config snapshot; an unwritable runs dir is a usage error."""
        try:
            for sub in ("logs", "stages", "artifacts"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise UsageError(
                f"cannot write run directory {self.root} ({exc.strerror}); make paths.runs_dir "
                "writable or point it elsewhere"
            ) from None
        if not (self.root / "config.yaml").exists():
            for dotted, ref in config.files.items():
                target = self.root / "files" / f"{dotted}-{ref.path.name}"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ref.path, target)
            write_text_atomic(self.root / "config.yaml", config.text)
        if not self.run_json.exists():
            write_text_atomic(self.run_json, json.dumps({"run_id": self.id, "stages": {}}, indent=2))

    def read_status(self) -> dict[str, Any]:
        try:
            return json.loads(self.run_json.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {"run_id": self.id, "stages": {}}

    def update_stage(self, stage: str, **fields: Any) -> None:
        """Merge fields into run.json's entry for a stage (call under the run lock)."""
        status = self.read_status()
        entry = status.setdefault("stages", {}).setdefault(stage, {})
        entry.update(fields)
        entry["updated_at"] = now_iso()
        write_text_atomic(self.run_json, json.dumps(status, indent=2, ensure_ascii=False))
