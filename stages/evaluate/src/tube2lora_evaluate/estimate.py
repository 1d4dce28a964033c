"""What `tube2lora estimate` forecasts of evaluate: only its judge asks the LLM (evaluate.judge), four requests a
judged question (adapter and base, in both orders). Before there is a held-out set it assumes judge_samples
questions (at most max_chats; fewer when the held-out videos have fewer own_words examples), each answered by
both models as long as the real answer (answer_length real; at most max_new_tokens), the creator's real answer a
passage, the reference the training passages.
"""

from __future__ import annotations

from tube2lora_shared.estimate import EstimateContext
from tube2lora_shared.segmentation import words

from .config import EvaluateConfig
from .judge import judge

TYPICAL_QUESTION = "What is the one thing most people get wrong about this, and how do I avoid it?"


def forecast(ectx: EstimateContext) -> None:
    cfg: EvaluateConfig = ectx.section
    if not cfg.judge:
        ectx.note("evaluate.judge is false: nothing is asked of the LLM")
        return
    passages = ectx.forecast.passages or []
    if not passages:
        return
    count = min(cfg.judge_samples, cfg.max_chats, len(passages))
    samples = [judge_sample(cfg, TYPICAL_QUESTION, p.text) for p in passages[:count]]
    reference = " ".join(p.text for p in passages[count:]) or " ".join(p.text for p in passages)
    language = passages[0].language
    judge(ectx.llm(cfg.judge_model), "the creator", reference, samples, language)
    ectx.assume(f"the judge compares {count} held-out question(s) (evaluate.judge_samples, at most)")


def assumed_answer(cfg: EvaluateConfig, real: str) -> str:
    """A stand-in for base's or adapter's answer, as long as evaluate lets it run: the real answer's words
    (answer_length real), at most max_new_tokens."""
    length = cfg.max_new_tokens if cfg.answer_length == "fixed" else min(cfg.max_new_tokens, len(words(real)) or 1)
    return " ".join(["word"] * length)


def judge_sample(cfg: EvaluateConfig, question: str, real: str) -> dict:
    """One question for the judge's forecast: the real answer, and base's and adapter's as `assumed_answer`."""
    answer = assumed_answer(cfg, real)
    return {"prompt": question, "reference": real, "base": answer, "adapter": answer}
