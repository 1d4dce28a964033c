"""The optional LLM judge: pairwise "which answer sounds more like the creator?", asked twice with the
answers' positions swapped, so a judge that always prefers one position scores a tie."""

from __future__ import annotations

from tube2lora_shared.answers import json_object
from tube2lora_shared.llm import LLMClient, LLMError, Question

SCHEMA = {"type": "object", "properties": {"winner": {"type": "string", "enum": ["A", "B"]}},
          "required": ["winner"], "additionalProperties": False}
PROMPT = """Here is how {creator} really talks:
<reference>
{reference}
</reference>

A viewer asked: {question}

Answer A:
{a}

Answer B:
{b}

Which answer sounds more like {creator}: their words, phrasing and opinions? Reply with the JSON object
{{"winner": "A"}} or {{"winner": "B"}} and nothing else."""


def parse(text: str) -> str:
    try:
        winner = json_object(text)["winner"]
    except (ValueError, KeyError, TypeError):
        raise ValueError('expected {"winner": "A"} or {"winner": "B"}') from None
    if winner not in ("A", "B"):
        raise ValueError('winner must be "A" or "B"')
    return winner


def judge(client: LLMClient, creator: str, reference: str, samples: list[dict]) -> dict:
    """Adapter win rate over samples (a win needs both orders to agree; disagreement is a tie)."""
    jobs = []
    for i, s in enumerate(samples):
        for adapter_first in (True, False):
            a, b = (s["adapter"], s["base"]) if adapter_first else (s["base"], s["adapter"])
            jobs.append((i, adapter_first, PROMPT.format(creator=creator, reference=reference[:3000],
                                                         question=s["prompt"], a=a, b=b)))

    answers = client.ask_all([Question([{"role": "user", "content": prompt}], parse, schema=SCHEMA,
                                       schema_name="verdict", temperature=0.0, max_tokens=20)
                              for _, _, prompt in jobs], "judge")
    verdicts: dict[int, list[str]] = {}
    failed = 0
    for (i, adapter_first, _), answer in zip(jobs, answers):
        if isinstance(answer, LLMError) or answer.value is None:
            failed += 1
            continue
        adapter_won = (answer.value == "A") == adapter_first
        verdicts.setdefault(i, []).append("adapter" if adapter_won else "base")
    wins = sum(1 for v in verdicts.values() if v == ["adapter", "adapter"])
    losses = sum(1 for v in verdicts.values() if v == ["base", "base"])
    ties = sum(1 for v in verdicts.values() if len(v) == 2 and v[0] != v[1])
    decided = wins + losses + ties
    return {"comparisons": len(jobs), "failed": failed, "adapter_wins": wins, "base_wins": losses, "ties": ties,
            "adapter_win_rate": round((wins + 0.5 * ties) / decided, 4) if decided else None,
            "position_bias_ties": ties}
