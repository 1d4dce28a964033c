"""The evaluate stage's orchestration: base vs base + adapter on the held-out videos.

Reads `stages/train/` (`adapter.json`: base model, tokenizer, adapter and TensorBoard paths; `split.json`;
`training_metrics.json`) and `stages/generate/` (`passages.jsonl`: the creator's verbatim passages, held-out
ones for transcript perplexity and as the real answers, training ones for signature phrases, copied runs and
the stylometric baseline; `own_words/dataset_messages.jsonl`: the questions written for the held-out
passages; `talk_as_creator/dataset_messages.jsonl` when it exists; `dataset_manifest.json`). Writes
`evaluation.json`, `report.md`, `report.html`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tube2lora_models.adapted import Decoding, generate, load_adapted
from tube2lora_models.chat import load_encoder
from tube2lora_models.preflight import preflight
from tube2lora_shared.documents import DatasetManifest, Evaluation, Split, TrainedAdapter, TrainingMetrics
from tube2lora_shared.errors import StageError
from tube2lora_shared.files import write_text_atomic
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.languages import primary
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.records import ChatExample, Passage

from . import scoring, style, voice
from .config import EvaluateConfig
from .curves import loss_curves
from .estimate import judge_sample
from .judge import judge
from .report import render

PASSAGES, OWN_WORDS, CHATS = ("passages.jsonl", "own_words/dataset_messages.jsonl",
                              "talk_as_creator/dataset_messages.jsonl")


def run(ctx: StageContext) -> None:
    cfg: EvaluateConfig = ctx.section
    trained_dir, generated = ctx.upstream["train"].dir, ctx.upstream["generate"].dir
    trained = TrainedAdapter.read(trained_dir)
    split = Split.read(trained_dir)
    eval_videos, train_videos = set(split.eval), set(split.train)
    if not eval_videos:
        raise StageError("no held-out video to evaluate on (train.eval_share is 0 or there was one video)")
    if not (generated / PASSAGES).is_file():
        raise StageError(f"{generated / PASSAGES} is missing; re-run the generate stage with --force")
    passages = sorted(read_jsonl(generated / PASSAGES, Passage), key=lambda p: (p.video_id, p.index))
    held_out = [p.text for p in passages if p.video_id in eval_videos]
    training = [p.text for p in passages if p.video_id in train_videos]
    if not held_out:
        raise StageError(f"{generated / PASSAGES} has no passage of the held-out videos "
                         f"({', '.join(sorted(eval_videos))}); re-run generate, then train, with --force")
    questions = _held_out(generated / OWN_WORDS, eval_videos, cfg.max_chats)
    chats = _held_out(generated / CHATS, eval_videos, cfg.max_chats)
    if not questions:
        ctx.log.warning("no own_words example of a held-out video: only transcript perplexity can be measured")
    by_video: dict[str, list[str]] = {}
    for p in passages:
        if p.video_id in train_videos:
            by_video.setdefault(p.video_id, []).append(p.text)
    language = creator_language([p for p in passages if p.video_id in train_videos] or passages)
    phrases = None  # not available in a language without function words
    if style.has_function_words(language):
        phrases = style.signature_phrases({v: " ".join(t) for v, t in by_video.items()}, cfg.phrase_words,
                                          cfg.phrase_min_videos, cfg.phrase_top)
    datasets = DatasetManifest.find(generated) or DatasetManifest()
    creator = datasets.creator or "the creator"
    judge_reference = " ".join(training)  # how the creator talks, never from a held-out video
    if ctx.estimate:  # before any model is resolved or loaded
        _estimate(ctx, cfg, creator, questions, judge_reference, language)
        return
    base_model = trained.base_model_location(ctx.cache.root)
    encoder = load_encoder(trained.tokenizer, base_model)
    where = preflight("evaluate", base_model, cfg.device, cfg.cpu_max_params, ctx.log)
    model = load_adapted(base_model, str(ctx.run.root / trained.adapter_path), trained.load_in_4bit, where)

    texts = {"transcripts": scoring.windows(encoder.text(" ".join(held_out)), cfg.window_tokens),
             "answers": [encoder.encode(q.messages) for q in questions]}
    if chats:
        texts["chats"] = [encoder.encode(c.messages) for c in chats]
    perplexity = {name: {"base": scoring.perplexity(model, rows, False), "adapter": scoring.perplexity(model, rows, True)}
                  for name, rows in texts.items()}
    prompts, answers = _answers(ctx, cfg, model, encoder, questions)
    real = [r for _, r in prompts]
    figures = voice.figures(real, answers, training, phrases, cfg.copy_ngram, cfg.delta_words) if questions else {}
    styles = {}
    if questions:
        reference_profile = style.function_profile(" ".join(real), language)
        styles = {side: style.profile(" ".join(t), reference_profile, phrases, language)
                  for side, t in (("reference", real), *answers.items())}
    pairs = [{"prompt": p, "reference": r, "base": b, "adapter": a}
             for (p, r), b, a in zip(prompts, answers["base"], answers["adapter"])]
    verdict = None
    if cfg.judge and pairs:
        verdict = judge(ctx.llm(cfg.judge_model), creator, judge_reference, pairs[: cfg.judge_samples], language)
    evaluation = {
        "creator": creator, "language": language, "judge": verdict,
        "data": _data(datasets, TrainingMetrics.read(trained_dir)),
        "base_model": trained.base_model, "adapter": trained.adapter_path, "eval_videos": sorted(eval_videos),
        "eval_passages": len(held_out), "eval_questions": len(questions), "eval_chats": len(chats),
        "perplexity": perplexity, "voice": figures, "style": styles, "signature_phrases": phrases or [],
        "samples": pairs[: cfg.samples],
        "improved": _improved(perplexity, figures, styles),
    }
    Evaluation.model_validate(evaluation).write(ctx.out_dir)
    md, page = render(evaluation, loss_curves(ctx.run.root / trained.tensorboard_path))
    write_text_atomic(ctx.out_dir / Evaluation.REPORT_MD, md)
    write_text_atomic(ctx.out_dir / Evaluation.REPORT_HTML, page)
    for video in sorted(eval_videos):
        ctx.record(video, "success")
    ctx.log.info("held-out transcript perplexity base %s -> adapter %s; report: %s",
                 perplexity["transcripts"]["base"], perplexity["transcripts"]["adapter"],
                 ctx.run.stage_dir("evaluate") / Evaluation.REPORT_HTML)


def creator_language(passages: list[Passage]) -> str | None:
    """The language most of the creator's passages are in (None when none says)."""
    found = Counter(primary(p.language) for p in passages if p.language)
    return found.most_common(1)[0][0] if found else None


def _held_out(path: Path, eval_videos: set[str], limit: int) -> list[ChatExample]:
    """The file's examples of held-out videos (none when the generator did not run), at most `limit`."""
    if not path.is_file():
        return []
    return [c for c in read_jsonl(path, ChatExample) if c.provenance.video_id in eval_videos][:limit]


def _estimate(ctx: StageContext, cfg: EvaluateConfig, creator: str, questions: list[ChatExample],
              reference: str, language: str | None) -> None:
    """What --estimate can tell without loading a model: the judge's questions, counted with answers as long
    as evaluate lets them run (the answers are not generated, so none is found in the cache)."""
    if not cfg.judge:
        ctx.log.info("evaluate estimate: evaluate.judge is false, so nothing is asked of the LLM; no model loaded")
        return
    samples = [judge_sample(cfg, _last(c, "user"), _last(c, "assistant")) for c in questions[: cfg.judge_samples]]
    judge(ctx.llm(cfg.judge_model), creator, reference, samples, language)
    ctx.log.info("evaluate estimate: the judge sets %d real answer(s) against base's and adapter's, in both "
                 "orders; no model loaded", len(samples))


def _last(chat: ChatExample, role: str) -> str:
    return next((m["content"] for m in reversed(chat.messages) if m["role"] == role), "")


def _answers(ctx: StageContext, cfg: EvaluateConfig, model, encoder,
             chats: list[ChatExample]) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """Base's and adapter's answers to each example's last user turn (`evaluate`'s decoding, the i-th question
    sampled from seed + i): ([(question, creator's answer)], {"base": [...], "adapter": [...]})."""
    answers: dict[str, list[str]] = {"base": [], "adapter": []}
    prompts = []
    for i, chat in enumerate(ctx.track(chats, "generations", total=len(chats))):
        last_user = max(i for i, m in enumerate(chat.messages) if m["role"] == "user")
        ids = encoder.prompt(chat.messages[: last_user + 1])  # the conversation up to the last user turn
        reply = next((m["content"] for m in chat.messages[last_user + 1:] if m["role"] == "assistant"), "")
        length = cfg.max_new_tokens
        if cfg.answer_length == "real" and reply:
            length = max(8, min(length, len(encoder.encode_text(reply)[0])))  # as long as the creator's answer
        decoding = Decoding(length, cfg.temperature, cfg.top_p, cfg.repetition_penalty, cfg.seed + i)
        prompts.append((chat.messages[last_user]["content"], reply))
        for side in answers:
            answers[side].append(encoder.decode(generate(model, ids, decoding, side == "adapter",
                                                         encoder.eos_id)).strip())
    return prompts, answers


def _data(datasets: DatasetManifest, metrics: TrainingMetrics) -> dict:
    """What the adapter was trained on: each generator's attempts, acceptances and rejections by reason."""
    return {"generators": {name: {"attempted": g.attempted, "accepted": g.accepted, "rejected": g.rejected}
                           for name, g in datasets.generators.items()},
            "train_examples": metrics.train_examples, "eval_examples": metrics.eval_examples,
            "steps": metrics.steps}


def _improved(perplexity: dict, figures: dict, styles: dict) -> dict[str, bool | None]:
    """Did the adapter move toward the creator: lower perplexities, a smaller Delta and function-word divergence."""
    improved = {f"{name.rstrip('s')}_perplexity": _lower(pair) for name, pair in perplexity.items()}
    if figures:
        improved["delta"] = _lower({side: figures["delta"][side] for side in ("base", "adapter")})
        improved["function_word_js"] = _lower({side: styles[side]["function_word_js"] for side in ("base", "adapter")})
    return improved


def _lower(pair: dict) -> bool | None:
    return None if None in pair.values() else pair["adapter"] < pair["base"]
