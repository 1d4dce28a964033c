"""The generate stage's lines in `tube2lora summary`: the passages, each generator's yield and its dataset file, and
every gate the rejected candidates failed when some failed more than the one they were rejected for."""

from __future__ import annotations

from tube2lora_shared.documents import DatasetManifest
from tube2lora_shared.manifest import Manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import find_document, show_path


def _histogram(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def lines(run: RunDir, manifest: Manifest) -> list[str]:
    stage = run.stage_dir("generate")
    datasets = find_document(DatasetManifest, stage)
    found = []
    if datasets and datasets.passages:
        p = datasets.passages
        dropped = _histogram(p.dropped)
        found.append(f"passages   {p.count} usable, {p.words} words" + (f" (dropped: {dropped})" if dropped else "")
                     + f" -> {show_path(stage / p.file)}")
    for name, gen in (datasets.generators if datasets else {}).items():
        rejected = _histogram(gen.rejected)
        prefix = f"gate_failed_{name}_"
        failed = {k.removeprefix(prefix): v for k, v in manifest.counts.items() if k.startswith(prefix)}
        every = f"; gates failed: {_histogram(failed)}" if failed and failed != gen.rejected else ""
        found.append(f"examples   {name}: {gen.accepted} of {gen.attempted} accepted"
                     + (f", yield {gen.yield_:.0%}" if gen.yield_ is not None else "")
                     + (f" (rejected: {rejected}{every})" if rejected else "")
                     + (f" -> {show_path(stage / gen.file)}" if gen.file else ""))
    return found
