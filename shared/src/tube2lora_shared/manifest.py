"""Stage manifests: written last into a stage directory, so their existence means "finished"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from .hashing import sha256_file, sha256_json
from .jsonl import count_lines

MANIFEST = "manifest.json"
Status = Literal["success", "skipped", "failed", "cached"]


class ItemStatus(BaseModel):
    status: Status
    reason: str | None = None
    error: str | None = None
    retryable: bool = False  # failed, or done only in part (an LLM chunk kept as spoken): the next run retries


class OutputInfo(BaseModel):
    sha256: str
    bytes: int
    records: int | None = None


class Manifest(BaseModel):
    stage: str
    run_id: str
    input_hash: str
    code_version: str
    config: dict[str, Any]
    upstream: dict[str, str] = Field(default_factory=dict)  # stage -> its output_hash
    outputs: dict[str, OutputInfo] = Field(default_factory=dict)
    output_hash: str
    items: dict[str, ItemStatus] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    started_at: str
    finished_at: str
    seconds: float
    token_usage: dict[str, float] = Field(default_factory=dict)  # LLM requests, tokens, cache hits, cost
    library_versions: dict[str, str] = Field(default_factory=dict)

    def retryable(self) -> list[str]:
        return [item for item, st in self.items.items() if st.retryable]


def read_manifest(stage_dir: Path) -> Manifest | None:
    try:
        return Manifest.model_validate_json((stage_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:  # unreadable manifest: the stage is treated as not finished
        return None


def describe_outputs(stage_dir: Path) -> tuple[dict[str, OutputInfo], str]:
    """Hash every file of a stage directory (but the manifest); return them and their combined hash."""
    outputs = {}
    for path in sorted(p for p in stage_dir.rglob("*") if p.is_file() and p.name != MANIFEST):
        name = path.relative_to(stage_dir).as_posix()
        outputs[name] = OutputInfo(
            sha256=sha256_file(path),
            bytes=path.stat().st_size,
            records=count_lines(path) if path.suffix == ".jsonl" else None,
        )
    return outputs, sha256_json({name: info.sha256 for name, info in outputs.items()})


def manifest_json(manifest: Manifest) -> str:
    return json.dumps(manifest.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
