"""The generate stage's directory as train reads it (issue 13's interface), built from records: every kept
video's passages (`passages.jsonl`), own_words chats answered with them, optionally talk_as_creator chats,
and `dataset_manifest.json` listing the kept videos."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from harness import publish_records

from tube2lora_shared.records import ChatExample, Passage, Provenance

PERSONA = {"role": "system", "content": "You are Toby Fenwick, talking to a viewer in your own words."}
LINES = ["Here's the thing: one drop per roller, then wipe the outside.", "No drama, grease monkeys.",
         "Slow is smooth, and smooth is fast.", "Keep the rubber side down."]


def passages(videos: int = 4, per_video: int = 3) -> list[Passage]:
    out = []
    for v in range(videos):
        for i in range(per_video):
            text = " ".join(LINES[: 1 + (v + i) % len(LINES)]) + f" That is part {i} of ep{v:02d}."
            out.append(Passage(id=f"ep{v:02d}:{i}", video_id=f"ep{v:02d}", index=i, text=text, words=len(text.split()),
                               source_sha256=hashlib.sha256(text.encode()).hexdigest()))
    return out


def chat(passage: Passage, question: str, generator: str = "own_words") -> ChatExample:
    return ChatExample(
        messages=[PERSONA, {"role": "user", "content": question}, {"role": "assistant", "content": passage.text}],
        provenance=Provenance(generator=generator, generator_version="0.1.0", prompt="p", model="m",
                              video_id=passage.video_id, chunk_index=passage.index,
                              source_sha256=passage.source_sha256))


def own_words(texts: list[Passage]) -> list[ChatExample]:
    return [chat(p, f"How do you look after a chain, part {p.index}?") for p in texts]


def publish_generate(recipe: Path, texts: list[Passage], chats: list[ChatExample] | None = None,
                     kept: list[str] | None = None, talk: list[ChatExample] | None = None) -> None:
    """`stages/generate/` for the recipe's run: the passages, own_words chats (default: one per passage),
    talk_as_creator chats when given, and the manifest's kept videos (default: the passages' videos)."""
    chats = own_words(texts) if chats is None else chats
    kept = sorted({p.video_id for p in texts}) if kept is None else kept
    files = {"own_words/dataset_messages.jsonl": "".join(c.model_dump_json() + "\n" for c in chats),
             "dataset_manifest.json": json.dumps({"persona": PERSONA["content"], "videos": kept})}
    if talk is not None:
        files["talk_as_creator/dataset_messages.jsonl"] = "".join(c.model_dump_json() + "\n" for c in talk)
    publish_records(recipe, "generate", "passages.jsonl", texts, files=files)
