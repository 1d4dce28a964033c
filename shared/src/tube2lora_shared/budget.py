"""Money and the LLM: what a request may cost at most, and what a run directory has spent so far.

    worst = worst_case_cost(request, cfg.prices)  # before sending: prompt tokens (cl100k) + all of max_tokens
    total, own = run_spent(run, "generate")        # every stage's spending in the run, and this stage's part

`llm.budget` (in the currency of `llm.prices`) is checked against these by the LLM client before each request.
Spending is kept per stage in run.json (`cost_spent`), summed over every attempt, a failed one included: a stage
that stopped at the budget has paid for its answers (they are cached), and a re-run with the same budget must not
pay the same amount again. A stage without that record counts the `cost_usd` of its manifest.
"""

from __future__ import annotations

import json
from typing import Any

from .config import Prices
from .manifest import read_manifest
from .rundir import RunDir

MESSAGE_OVERHEAD = 4  # tokens a chat template adds around each message (role, separators), rounded up


def prompt_tokens(request: dict[str, Any]) -> int:
    """The request's prompt tokens, estimated offline: cl100k over the messages and the response format, plus a
    few per message; without tiktoken, a character count halved (more than any tokenizer makes of prose)."""
    texts = [m.get("content") or "" for m in request["messages"]]
    if request.get("response_format"):
        texts.append(json.dumps(request["response_format"]))
    try:
        from .textstats import cl100k_tokens

        counted = sum(cl100k_tokens(text) for text in texts)
    except ImportError:
        counted = sum(len(text) for text in texts) // 2
    return counted + MESSAGE_OVERHEAD * (len(request["messages"]) + 1)


def worst_case_cost(request: dict[str, Any], prices: Prices) -> float:
    """What the request costs at most: its prompt, and an answer that uses all of `max_tokens`."""
    return prices.cost(prompt_tokens(request), request["max_tokens"])


def run_spent(run: RunDir, stage: str) -> tuple[float, float]:
    """(what the whole run directory has spent on the LLM, the part of it `stage`'s earlier attempts spent)."""
    entries = run.read_status().get("stages", {})
    stages_dir = run.root / "stages"
    names = set(entries) | ({p.name for p in stages_dir.iterdir() if p.is_dir()} if stages_dir.is_dir() else set())
    total = own = 0.0
    for name in names:
        cost = entries.get(name, {}).get("cost_spent")
        if cost is None:
            manifest = read_manifest(run.stage_dir(name))
            cost = manifest.token_usage.get("cost_usd", 0.0) if manifest else 0.0
        total += cost
        if name == stage:
            own = cost
    return total, own
