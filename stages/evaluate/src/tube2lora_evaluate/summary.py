"""The evaluate stage's lines in `tube2lora summary`: held-out perplexities and where the report is."""

from __future__ import annotations

from tube2lora_shared.documents import Evaluation
from tube2lora_shared.manifest import Manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import find_document, number, show_path


def lines(run: RunDir, manifest: Manifest) -> list[str]:
    evaluation = find_document(Evaluation, run.stage_dir("evaluate"))
    if evaluation is None:
        return []
    found = [f"perplexity held-out {text}: base {number(pair['base'])} -> adapter {number(pair['adapter'])}"
             for text, pair in evaluation.perplexity.items()]
    return [*found, f"report     {show_path(run.stage_dir('evaluate') / Evaluation.REPORT_HTML)}"]
