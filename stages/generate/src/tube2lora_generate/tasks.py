"""Task planning (pure): which generator asks what about which chunk, with which brief or clarifying turn."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tube2lora_shared.records import Chunk, Normalized
from tube2lora_shared.segmentation import words

from .config import GenerateConfig


@dataclass(frozen=True)
class Task:
    generator: str  # talk_as_creator | editorial_rewrite (own_words asks per passage, not per task)
    video: Normalized
    chunk: Chunk
    source: str
    clarify: bool = False
    brief: str | None = None

    @property
    def id(self) -> str:
        return f"{self.generator}:{self.video.id}:{self.chunk.index}" + (f":{self.brief}" if self.brief else "")


def share(key: str) -> float:
    """A stable pseudo-random number in [0, 1) for a key: the same chunks ask back on every run."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def creator_name(cfg: GenerateConfig, kept: list[str], normalized: dict[str, Normalized]) -> str:
    """generate.creator, else the first kept video's channel name."""
    return cfg.creator or next((normalized[k].channel for k in kept if normalized[k].channel), None) or "the creator"


def plan(cfg: GenerateConfig, kept: list[str], normalized: dict[str, Normalized],
         chunks: dict[str, list[Chunk]]) -> list[Task]:
    """Per chunk of each kept video (as the filter left it: `cuts.surviving_chunks`), in order: a conversation
    (if long enough), then its edit briefs, which rotate across chunks."""
    talk, edit = cfg.talk_as_creator, cfg.editorial_rewrite
    tasks: list[Task] = []
    n_chunk = 0
    for vid in kept:
        for chunk in chunks[vid]:
            if talk.enabled and len(words(chunk.text)) >= talk.gates.min_source_words:
                tasks.append(Task("talk_as_creator", normalized[vid], chunk, chunk.text,
                                  clarify=share(f"clarify:{vid}:{chunk.index}") < talk.clarify_share))
            if edit.enabled and len(words(chunk.text)) >= edit.min_source_words:
                source = chunk.text if edit.input == "normalized" else chunk.source
                for k in range(edit.examples_per_chunk):
                    brief = edit.briefs[(n_chunk * edit.examples_per_chunk + k) % len(edit.briefs)]
                    tasks.append(Task("editorial_rewrite", normalized[vid], chunk, source, brief=brief))
            n_chunk += 1
    return tasks
