"""The evaluate stage's orchestration: base vs base + adapter on the held-out videos.

Reads `stages/train/` (`adapter.json`: base model, tokenizer, adapter and TensorBoard paths; `split.json`;
`training_metrics.json`), `stages/generate/` (held-out conversations, `dataset_manifest.json`) and
`stages/normalize/` (transcripts: held-out for perplexity and the style reference, training ones for
mining signature phrases). Writes `evaluation.json`, `report.md`, `report.html`.
"""

from __future__ import annotations

from tube2lora_models.chat import load_encoder
from tube2lora_shared.documents import DatasetManifest, Evaluation, Split, TrainedAdapter, TrainingMetrics
from tube2lora_shared.errors import StageError
from tube2lora_shared.files import write_text_atomic
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.records import ChatExample, Normalized

from . import scoring, style
from .config import EvaluateConfig
from .curves import loss_curves
from .judge import judge
from .report import render


def run(ctx: StageContext) -> None:
    cfg: EvaluateConfig = ctx.section
    trained_dir = ctx.upstream["train"].dir
    trained = TrainedAdapter.read(trained_dir)
    split = Split.read(trained_dir)
    eval_videos, train_videos = set(split.eval), set(split.train)
    if not eval_videos:
        raise StageError("no held-out video to evaluate on (train.eval_share is 0 or there was one video)")
    chats_file = ctx.upstream["generate"].dir / "talk_as_creator" / "dataset_messages.jsonl"
    chats = [c for c in read_jsonl(chats_file, ChatExample) if c.provenance.video_id in eval_videos][: cfg.max_chats]
    texts = {n.id: n.text for n in read_jsonl(ctx.upstream["normalize"].dir / "normalized.jsonl", Normalized)}
    reference = " ".join(texts[v] for v in sorted(eval_videos) if v in texts)
    phrases = style.signature_phrases({v: texts[v] for v in train_videos if v in texts}, cfg.phrase_words,
                                      cfg.phrase_min_videos, cfg.phrase_top)
    datasets = DatasetManifest.find(ctx.upstream["generate"].dir) or DatasetManifest()
    creator = datasets.creator or "the creator"
    if ctx.estimate:  # before any model is resolved or loaded
        _estimate(ctx, cfg, creator, chats, reference)
        return
    base_model = trained.base_model_location(ctx.cache.root)
    encoder = load_encoder(trained.tokenizer, base_model)
    model = scoring.load(base_model, str(ctx.run.root / trained.adapter_path))

    chat_rows = [encoder.encode(c.messages) for c in chats]
    transcript_rows = scoring.windows(encoder.text(reference), cfg.window_tokens) if reference else []
    perplexity = {name: {"base": scoring.perplexity(model, rows, False), "adapter": scoring.perplexity(model, rows, True)}
                  for name, rows in (("chats", chat_rows), ("transcripts", transcript_rows))}
    prompts, answers = _answers(ctx, cfg, model, encoder, chats)
    reference_profile = style.function_profile(reference)
    styles = {"reference": style.profile(reference, reference_profile, phrases)}
    for side, texts_out in answers.items():
        styles[side] = style.profile(" ".join(texts_out), reference_profile, phrases)
    pairs = [{"prompt": p, "reference": r, "base": b, "adapter": a}
             for (p, r), b, a in zip(prompts, answers["base"], answers["adapter"])]
    samples = pairs[: cfg.samples]
    verdict = None
    if cfg.judge:
        verdict = judge(ctx.llm(cfg.judge_model), creator, reference, pairs[: cfg.judge_samples])
    evaluation = {
        "creator": creator, "judge": verdict, "data": _data(datasets, TrainingMetrics.read(trained_dir)),
        "base_model": trained.base_model, "adapter": trained.adapter_path,
        "eval_videos": sorted(eval_videos), "eval_chats": len(chats), "perplexity": perplexity, "style": styles,
        "signature_phrases": phrases, "samples": samples,
        "improved": {"chat_perplexity": _lower(perplexity["chats"]), "transcript_perplexity": _lower(perplexity["transcripts"]),
                     "function_word_js": styles["adapter"]["function_word_js"] < styles["base"]["function_word_js"]},
    }
    Evaluation.model_validate(evaluation).write(ctx.out_dir)
    md, page = render(evaluation, loss_curves(ctx.run.root / trained.tensorboard_path))
    write_text_atomic(ctx.out_dir / Evaluation.REPORT_MD, md)
    write_text_atomic(ctx.out_dir / Evaluation.REPORT_HTML, page)
    for video in sorted(eval_videos):
        ctx.record(video, "success")
    ctx.log.info("chat perplexity base %s -> adapter %s; report: %s", perplexity["chats"]["base"],
                 perplexity["chats"]["adapter"], ctx.run.stage_dir("evaluate") / Evaluation.REPORT_HTML)


def _estimate(ctx: StageContext, cfg: EvaluateConfig, creator: str, chats: list[ChatExample], reference: str) -> None:
    """What --estimate can tell without loading a model: the judge's questions, counted with answers as long
    as `max_new_tokens` allows (the answers are not generated, so none is found in the cache)."""
    if not cfg.judge:
        ctx.log.info("evaluate estimate: evaluate.judge is false, so nothing is asked of the LLM; no model loaded")
        return
    longest = " ".join(["word"] * cfg.max_new_tokens)
    samples = [{"prompt": next(m["content"] for m in reversed(c.messages) if m["role"] == "user"),
                "base": longest, "adapter": longest} for c in chats[: cfg.judge_samples]]
    judge(ctx.llm(cfg.judge_model), creator, reference, samples)
    ctx.log.info("evaluate estimate: the judge compares %d held-out answer pair(s) in both orders; no model loaded",
                 len(samples))


def _answers(ctx: StageContext, cfg: EvaluateConfig, model, encoder,
             chats: list[ChatExample]) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """Greedy answers of base and adapter to each chat's last user turn: ([(prompt, creator's reply)],
    {"base": [...], "adapter": [...]})."""
    answers: dict[str, list[str]] = {"base": [], "adapter": []}
    prompts = []
    for chat in ctx.track(chats, "generations", total=len(chats)):
        last_user = max(i for i, m in enumerate(chat.messages) if m["role"] == "user")
        ids = encoder.prompt(chat.messages[: last_user + 1])  # the conversation up to the last user turn
        reply = next((m["content"] for m in chat.messages[last_user + 1:] if m["role"] == "assistant"), "")
        prompts.append((chat.messages[last_user]["content"], reply))
        for side in answers:
            answers[side].append(encoder.decode(scoring.generate(model, ids, cfg.max_new_tokens, side == "adapter",
                                                                 encoder.eos_id)).strip())
    return prompts, answers


def _data(datasets: DatasetManifest, metrics: TrainingMetrics) -> dict:
    """What the adapter was trained on: each generator's attempts, acceptances and rejections by reason."""
    return {"generators": {name: {"attempted": g.attempted, "accepted": g.accepted, "rejected": g.rejected}
                           for name, g in datasets.generators.items()},
            "train_examples": metrics.train_examples, "eval_examples": metrics.eval_examples,
            "steps": metrics.steps}


def _lower(pair: dict) -> bool | None:
    return None if None in pair.values() else pair["adapter"] < pair["base"]
