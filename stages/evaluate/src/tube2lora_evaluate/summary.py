"""The evaluate stage's lines in `tube2lora summary`: held-out perplexities (adapter / base), the answers'
signature-phrase ratio with its flag, identical answers, and where the report is."""

from __future__ import annotations

from tube2lora_shared.documents import Evaluation
from tube2lora_shared.manifest import Manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import find_document, number, show_path

TEXTS = {"transcripts": "transcripts", "answers": "real answers", "chats": "chats"}


def lines(run: RunDir, manifest: Manifest) -> list[str]:
    evaluation = find_document(Evaluation, run.stage_dir("evaluate"))
    if evaluation is None:
        return []
    found = []
    for key, label in TEXTS.items():
        pair = evaluation.perplexity.get(key)
        if pair:
            ratio = f" ({pair['adapter'] / pair['base']:.2f}x)" if pair["base"] and pair["adapter"] is not None else ""
            found.append(f"perplexity held-out {label}: base {number(pair['base'])} -> adapter "
                         f"{number(pair['adapter'])}{ratio}")
    voice = evaluation.voice
    if voice:
        phrases, same = (voice["phrases"] or {}).get("adapter"), voice["identical"]
        said = (f"signature phrases n/a (language {evaluation.language})" if phrases is None
                else f"signature phrases {number(phrases['ratio'])}x the creator's ({phrases['flag']})"
                if phrases["ratio"] is not None else "no signature phrases to count")
        found.append(f"voice      {said}; {same['count']} of {same['of']} adapter answers identical to the base's")
    return [*found, f"report     {show_path(run.stage_dir('evaluate') / Evaluation.REPORT_HTML)}"]
