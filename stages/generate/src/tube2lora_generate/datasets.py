"""Dataset files, the passages, exports, the dataset manifest and the dataset card (README.md)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tube2lora_shared.documents import DatasetManifest, PassageCounts
from tube2lora_shared.files import write_text_atomic
from tube2lora_shared.jsonl import write_jsonl
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.records import ChatExample, EditExample, Passage, Video
from tube2lora_shared.textstats import cl100k_tokens

from .config import GenerateConfig
from .decisions import Decisions

FILES = {"own_words": "dataset_messages.jsonl", "talk_as_creator": "dataset_messages.jsonl",
         "editorial_rewrite": "dataset_edits.jsonl"}
PASSAGES = "passages.jsonl"


def _rows(path: Path, rows: list[dict]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


def sharegpt(example: ChatExample | EditExample) -> dict:
    names = {"system": "system", "user": "human", "assistant": "gpt"}
    if isinstance(example, ChatExample):
        turns = [{"from": names[m["role"]], "value": m["content"]} for m in example.messages]
    else:
        turns = [{"from": "human", "value": f"{example.instruction}\n\n{example.input}"},
                 {"from": "gpt", "value": example.output}]
    return {"conversations": turns}


def alpaca(example: EditExample) -> dict:
    return {"instruction": example.instruction, "input": example.input, "output": example.output}


def write_datasets(ctx: StageContext, cfg: GenerateConfig, creator: str, found: Decisions, passages: list[Passage],
                   dropped: Counter, videos: dict[str, Video], kept: list[str], model: str) -> None:
    out = ctx.out_dir
    write_jsonl(out / PASSAGES, passages)
    summary = {}
    for generator, examples in found.examples.items():
        if not getattr(cfg, generator).enabled:
            continue
        folder = out / generator
        _rows(folder / "candidates.jsonl", [c for c in found.candidates if c["generator"] == generator])
        _rows(folder / "decisions.jsonl", [d for d in found.decisions if d["generator"] == generator])
        write_jsonl(folder / FILES[generator], examples)
        for vid in sorted({e.provenance.video_id for e in examples}):
            write_jsonl(folder / "by_video" / f"{vid}.jsonl", [e for e in examples if e.provenance.video_id == vid])
        if "sharegpt" in cfg.exports:
            _rows(folder / "export_sharegpt.jsonl", [sharegpt(e) for e in examples])
        if "alpaca" in cfg.exports and generator == "editorial_rewrite":
            _rows(folder / "export_alpaca.jsonl", [alpaca(e) for e in examples])
        text = [m["content"] for e in examples for m in e.messages] if generator != "editorial_rewrite" \
            else [f"{e.instruction} {e.input} {e.output}" for e in examples]
        attempted = sum(1 for d in found.decisions if d["generator"] == generator)
        summary[generator] = {"attempted": attempted, "accepted": len(examples),
                              "yield": round(len(examples) / attempted, 4) if attempted else None,
                              "tokens_cl100k": sum(cl100k_tokens(t) for t in text),
                              "file": f"{generator}/{FILES[generator]}",
                              "rejected": {k.split(": ", 1)[1]: v for k, v in found.rejected.items()
                                           if k.startswith(generator + ":")}}
    counts = PassageCounts(file=PASSAGES, count=len(passages), words=sum(p.words for p in passages),
                           dropped=dict(dropped.most_common()))
    persona = cfg.persona_system.format(creator=creator)
    DatasetManifest.model_validate({"creator": creator, "persona": persona, "model": model, "generators": summary,
                                    "passages": counts.model_dump(), "parameters": cfg.model_dump(mode="json"),
                                    "videos": kept, "exports": cfg.exports}).write(out)
    write_text_atomic(out / "README.md", card(creator, model, summary, counts, cfg, videos, kept))


def card(creator: str, model: str, summary: dict, passages: PassageCounts, cfg: GenerateConfig,
         videos: dict[str, Video], kept: list[str]) -> str:
    lines = [f"# Dataset card: talking like {creator}", "",
             f"Supervised fine-tuning data made by tube2lora from {len(kept)} of {creator}'s videos with the model "
             f"`{model}`. In `own_words` the answers are {creator}'s own words, verbatim; the model only wrote the "
             "questions. `talk_as_creator` and `editorial_rewrite` are written by the model.", "",
             "## System prompts", "",
             f"- own words (and what to use when talking to the adapter): `{cfg.persona_system.format(creator=creator)}`",
             f"- model-written data: `{cfg.persona_system_written.format(creator=creator)}`", "",
             "## Sources", "", "| video | title | uploaded |", "|---|---|---|"]
    for vid in kept:
        v = videos.get(vid)
        lines.append(f"| {vid} | {(v.title if v else '') or ''} | {(v.upload_date if v else '') or 'unknown'} |")
    passage_drops = ", ".join(f"{k}: {v}" for k, v in passages.dropped.items()) or "none"
    lines += ["", "## Contents", "",
              f"Passages (`{passages.file}`): {passages.count} usable, {passages.words} words; dropped before any "
              f"model call: {passage_drops}.", "",
              "| generator | candidates | accepted | yield | cl100k tokens | file |", "|---|---|---|---|---|---|"]
    for name, s in summary.items():
        lines.append(f"| {name} | {s['attempted']} | {s['accepted']} | {s['yield']} | {s['tokens_cl100k']} | "
                     f"`{s['file']}` |")
    lines += ["", "## Quality gates and rejections", ""]
    for name, s in summary.items():
        gates = getattr(cfg, name).gates
        shown = gates.model_dump() if hasattr(gates, "model_dump") else {k: v.model_dump() for k, v in gates.items()}
        lines.append(f"- **{name}** gates: `{json.dumps(shown)}`")
        histogram = ", ".join(f"{k}: {v}" for k, v in sorted(s["rejected"].items(), key=lambda kv: -kv[1])) or "none"
        lines.append(f"  rejected: {histogram}")
    lines += ["", "## Rights", "",
              f"The text derives from {creator}'s videos. Use it only with the creator's permission, for the "
              "purpose they agreed to; a model trained on it imitates a real person's voice. Every example "
              "carries its provenance (video, chunk or passage, time range, source hash) so it can be traced and removed.", ""]
    return "\n".join(lines)
