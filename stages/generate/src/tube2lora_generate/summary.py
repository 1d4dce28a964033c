"""The generate stage's lines in `tube2lora summary`: each generator's yield and its dataset file."""

from __future__ import annotations

from tube2lora_shared.documents import DatasetManifest
from tube2lora_shared.manifest import Manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import find_document, show_path


def lines(run: RunDir, manifest: Manifest) -> list[str]:
    datasets = find_document(DatasetManifest, run.stage_dir("generate"))
    found = []
    for name, gen in (datasets.generators if datasets else {}).items():
        rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(gen.rejected.items(), key=lambda kv: (-kv[1], kv[0])))
        found.append(f"examples   {name}: {gen.accepted} of {gen.attempted} accepted"
                     + (f" (rejected: {rejected})" if rejected else "")
                     + (f" -> {show_path(run.stage_dir('generate') / gen.file)}" if gen.file else ""))
    return found
