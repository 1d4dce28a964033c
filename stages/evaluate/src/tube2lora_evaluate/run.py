"""The evaluate stage's orchestration: base vs base + adapter on the held-out videos.

Reads `stages/train/` (split.json, the adapter in artifacts/train/adapter, TensorBoard logs),
`stages/generate/` (held-out conversations) and `stages/normalize/` (transcripts: held-out for
perplexity and the style reference, training ones for mining signature phrases). Writes
`evaluation.json`, `report.md`, `report.html`.
"""

from __future__ import annotations

import json
from pathlib import Path

from tube2lora_shared.errors import StageError
from tube2lora_shared.files import write_text_atomic
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.records import ChatExample, Normalized
from tube2lora_train.chat import load_encoder
from tube2lora_train.config import TrainConfig
from tube2lora_train.models import resolve_base_model

from . import scoring, style
from .judge import judge
from .config import EvaluateConfig
from .report import render


def run(ctx: StageContext) -> None:
    cfg: EvaluateConfig = ctx.section
    train_cfg = ctx.config.section("train", TrainConfig)
    base_name = train_cfg.base_model
    split = json.loads((ctx.upstream["train"].dir / "split.json").read_text())
    eval_videos, train_videos = set(split["eval"]), set(split["train"])
    if not eval_videos:
        raise StageError("no held-out video to evaluate on (train.eval_share is 0 or there was one video)")
    chats_file = ctx.upstream["generate"].dir / "talk_as_creator" / "dataset_messages.jsonl"
    chats = [c for c in read_jsonl(chats_file, ChatExample) if c.provenance.video_id in eval_videos][: cfg.max_chats]
    texts = {n.id: n.text for n in read_jsonl(ctx.upstream["normalize"].dir / "normalized.jsonl", Normalized)}
    reference = " ".join(texts[v] for v in sorted(eval_videos) if v in texts)
    phrases = style.signature_phrases({v: texts[v] for v in train_videos if v in texts}, cfg.phrase_words,
                                      cfg.phrase_min_videos, cfg.phrase_top)
    if ctx.estimate:  # before any model is resolved or loaded
        _estimate(ctx, cfg, chats, reference)
        return
    train_cfg = train_cfg.model_copy(update={"base_model": resolve_base_model(base_name, ctx.cache.root)})
    encoder = load_encoder(train_cfg.tokenizer, train_cfg.base_model)
    adapter = ctx.run.root / "artifacts" / "train" / "adapter"
    model = scoring.load(train_cfg.base_model, str(adapter))

    chat_rows = [encoder.encode(c.messages) for c in chats]
    transcript_rows = scoring.windows(encoder.text(reference), cfg.window_tokens) if reference else []
    perplexity = {name: {"base": scoring.perplexity(model, rows, False), "adapter": scoring.perplexity(model, rows, True)}
                  for name, rows in (("chats", chat_rows), ("transcripts", transcript_rows))}

    answers = {"base": [], "adapter": []}
    prompts = []
    for chat in ctx.track(chats, "generations", total=len(chats)):
        last_user = max(i for i, m in enumerate(chat.messages) if m["role"] == "user")
        ids = encoder.prompt(chat.messages[: last_user + 1])  # the conversation up to the last user turn
        reply = next((m["content"] for m in chat.messages[last_user + 1:] if m["role"] == "assistant"), "")
        prompts.append((chat.messages[last_user]["content"], reply))
        for side in answers:
            answers[side].append(encoder.decode(scoring.generate(model, ids, cfg.max_new_tokens, side == "adapter",
                                                                 encoder.eos_id)).strip())
    reference_profile = style.function_profile(reference)
    styles = {"reference": style.profile(reference, reference_profile, phrases)}
    for side, texts_out in answers.items():
        styles[side] = style.profile(" ".join(texts_out), reference_profile, phrases)
    pairs = [{"prompt": p, "reference": r, "base": b, "adapter": a}
             for (p, r), b, a in zip(prompts, answers["base"], answers["adapter"])]
    samples = pairs[: cfg.samples]
    datasets = _dataset_manifest(ctx.upstream["generate"].dir)
    creator = datasets.get("creator", "the creator")
    verdict = None
    if cfg.judge:
        verdict = judge(ctx.llm(cfg.judge_model), creator, reference, pairs[: cfg.judge_samples])
    evaluation = {
        "creator": creator, "judge": verdict, "data": _data(datasets, ctx.upstream["train"].dir),
        "base_model": base_name, "adapter": "artifacts/train/adapter",
        "eval_videos": sorted(eval_videos), "eval_chats": len(chats), "perplexity": perplexity, "style": styles,
        "signature_phrases": phrases, "samples": samples,
        "improved": {"chat_perplexity": _lower(perplexity["chats"]), "transcript_perplexity": _lower(perplexity["transcripts"]),
                     "function_word_js": styles["adapter"]["function_word_js"] < styles["base"]["function_word_js"]},
    }
    write_text_atomic(ctx.out_dir / "evaluation.json", json.dumps(evaluation, indent=2, ensure_ascii=False))
    md, page = render(evaluation, loss_curves(ctx.run.root / "artifacts" / "train" / "tensorboard"))
    write_text_atomic(ctx.out_dir / "report.md", md)
    write_text_atomic(ctx.out_dir / "report.html", page)
    for video in sorted(eval_videos):
        ctx.record(video, "success")
    ctx.log.info("chat perplexity base %s -> adapter %s; report: %s", perplexity["chats"]["base"],
                 perplexity["chats"]["adapter"], ctx.run.stage_dir("evaluate") / "report.html")


def _estimate(ctx: StageContext, cfg: EvaluateConfig, chats: list[ChatExample], reference: str) -> None:
    """What --estimate can tell without loading a model: the judge's questions, counted with answers as long
    as `max_new_tokens` allows (the answers are not generated, so none is found in the cache)."""
    if not cfg.judge:
        ctx.log.info("evaluate estimate: evaluate.judge is false, so nothing is asked of the LLM; no model loaded")
        return
    longest = " ".join(["word"] * cfg.max_new_tokens)
    samples = [{"prompt": next(m["content"] for m in reversed(c.messages) if m["role"] == "user"),
                "base": longest, "adapter": longest} for c in chats[: cfg.judge_samples]]
    creator = _dataset_manifest(ctx.upstream["generate"].dir).get("creator", "the creator")
    judge(ctx.llm(cfg.judge_model), creator, reference, samples)
    ctx.log.info("evaluate estimate: the judge compares %d held-out answer pair(s) in both orders; no model loaded",
                 len(samples))


def _dataset_manifest(generated: Path) -> dict:
    """generate's dataset_manifest.json (creator, per-generator counts), read once; {} when absent."""
    manifest = generated / "dataset_manifest.json"
    return json.loads(manifest.read_text()) if manifest.exists() else {}


def _data(datasets: dict, trained: Path) -> dict:
    """What the adapter was trained on: each generator's attempts, acceptances and rejections by reason."""
    metrics = json.loads((trained / "training_metrics.json").read_text())
    return {"generators": {name: {k: g.get(k) for k in ("attempted", "accepted", "rejected")}
                           for name, g in datasets.get("generators", {}).items()},
            "train_examples": metrics.get("train_examples"), "eval_examples": metrics.get("eval_examples"),
            "steps": metrics.get("steps")}


def _lower(pair: dict) -> bool | None:
    return None if None in pair.values() else pair["adapter"] < pair["base"]


def loss_curves(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    """train/loss and eval/loss scalars as the trainer logged them to TensorBoard."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    curves: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(logdir.rglob("events.out.tfevents*")):
        acc = EventAccumulator(str(events.parent))
        acc.Reload()
        for tag in ("train/loss", "eval/loss"):
            if tag in acc.Tags().get("scalars", []):
                curves.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return {k: sorted(set(v)) for k, v in curves.items()}
