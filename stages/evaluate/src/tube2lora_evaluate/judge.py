"""The optional LLM judge: "which of these is the real creator?", the creator's real held-out answer against a
model's answer to the same question, asked twice with the positions swapped (a judge that always picks one
position is right half the time). Asked for the adapter and, as the baseline, for the base model: the
adapter sounds more like the creator when the judge finds the real one less often against it than against
the base (0.5 means it cannot tell them apart)."""

from __future__ import annotations

from tube2lora_shared.answers import json_object
from tube2lora_shared.languages import name
from tube2lora_shared.llm import LLMClient, LLMError, Question

SIDES = ("adapter", "base")
SCHEMA = {"type": "object", "properties": {"real": {"type": "string", "enum": ["A", "B"]}},
          "required": ["real"], "additionalProperties": False}
PROMPT = """{creator} speaks {language}. Here is how {creator} talks, from other videos of theirs:
<reference>
{reference}
</reference>

A viewer asked: {question}

One of these two answers is {creator}'s own words from a video; the other was written by a language model
imitating {creator}.

Answer A:
{a}

Answer B:
{b}

Which answer is the real {creator}? Reply with the JSON object {{"real": "A"}} or {{"real": "B"}} and nothing else."""


def parse(text: str) -> str:
    try:
        real = json_object(text)["real"]
    except (ValueError, KeyError, TypeError):
        raise ValueError('expected {"real": "A"} or {"real": "B"}') from None
    if real not in ("A", "B"):
        raise ValueError('real must be "A" or "B"')
    return real


def judge(client: LLMClient, creator: str, reference: str, samples: list[dict], language: str | None = None) -> dict:
    """For each side, over samples ({"prompt", "reference", "base", "adapter"}): how often the judge picked the
    real answer (real_picked_rate, over answered comparisons), and per sample whether both orders found the
    real one (told_apart), both picked the model (fooled) or they disagreed (unsure)."""
    jobs = []
    for i, s in enumerate(samples):
        for side in SIDES:
            for real_first in (True, False):
                a, b = (s["reference"], s[side]) if real_first else (s[side], s["reference"])
                jobs.append((i, side, real_first, PROMPT.format(creator=creator, reference=reference[:3000],
                                                                question=s["prompt"], a=a, b=b,
                                                                language=name(language, "their own language"))))

    answers = client.ask_all([Question([{"role": "user", "content": prompt}], parse, schema=SCHEMA,
                                       schema_name="verdict", temperature=0.0, max_tokens=20, expect_tokens=5)
                              for *_, prompt in jobs], "judge")
    picks: dict[str, dict[int, list[bool]]] = {side: {} for side in SIDES}
    failed = dict.fromkeys(SIDES, 0)
    for (i, side, real_first, _), answer in zip(jobs, answers):
        if isinstance(answer, LLMError) or answer.value is None:
            failed[side] += 1
            continue
        picks[side].setdefault(i, []).append((answer.value == "A") == real_first)
    return {side: _verdict(picks[side], failed[side], 2 * len(samples)) for side in SIDES}


def _verdict(picks: dict[int, list[bool]], failed: int, comparisons: int) -> dict:
    answered = [p for ps in picks.values() for p in ps]
    both = [ps for ps in picks.values() if len(ps) == 2]
    return {"comparisons": comparisons, "failed": failed, "real_picked": sum(answered),
            "real_picked_rate": round(sum(answered) / len(answered), 4) if answered else None,
            "told_apart": sum(all(ps) for ps in both), "fooled": sum(not any(ps) for ps in both),
            "unsure": sum(ps[0] != ps[1] for ps in both)}
