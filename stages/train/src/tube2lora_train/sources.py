"""The generate stage's outputs, read by training source: what the mix can draw on and which videos were kept.

    own_words          own_words/dataset_messages.jsonl          chats answered with the creator's passages
    talk_as_creator    talk_as_creator/dataset_messages.jsonl    chats an LLM wrote in the creator's style
    editorial_rewrite  editorial_rewrite/dataset_edits.jsonl     draft -> the creator's text
    monologue          passages.jsonl                            the creator's passages, plain text
    (kept videos)      dataset_manifest.json                     DatasetManifest.videos
"""

from __future__ import annotations

from pathlib import Path

from tube2lora_shared.documents import DatasetManifest
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.records import ChatExample, EditExample, Passage

from .mixing import MONOLOGUE, Row, items

FILES = {"own_words": ("own_words/dataset_messages.jsonl", ChatExample),
         "talk_as_creator": ("talk_as_creator/dataset_messages.jsonl", ChatExample),
         "editorial_rewrite": ("editorial_rewrite/dataset_edits.jsonl", EditExample),
         MONOLOGUE: ("passages.jsonl", Passage)}


def read_sources(generated: Path, weights: dict[str, float]) -> list[Row]:
    """The unencoded rows of every weighted source, and the passages always (held-out text for the eval loss).
    A missing file is an empty source."""
    rows: list[Row] = []
    for source, (name, record) in FILES.items():
        path = generated / name
        if (weights.get(source, 0) > 0 or source == MONOLOGUE) and path.exists():
            rows += items(source, list(read_jsonl(path, record)))
    return rows


def kept_videos(generated: Path) -> list[str]:
    """The videos the filter kept, as the generate stage lists them (empty for an older generate stage)."""
    manifest = DatasetManifest.find(generated)
    return list(manifest.videos) if manifest else []
