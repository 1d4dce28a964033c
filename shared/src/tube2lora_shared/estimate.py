"""`tube2lora estimate --config FILE`: the whole chain's LLM requests, tokens and cost, before anything is paid.

The stages are visited in pipeline order:
- an LLM stage whose upstream stages have finished in this run is walked exactly: its own `--estimate`
  (lifecycle.estimate_walk) builds the real prompts; answers the LLM cache already holds are counted as
  cached (they cost nothing), the others are estimated; a stage that is current asks nothing;
- otherwise its `estimate` hook (StageSpec) forecasts: it builds its own prompts from the records the stages
  before it will produce (the `Forecast`) and asks them of an estimate-mode client, which counts them.
Every stage's hook also puts the records it produces into the forecast, for the stages after it: its real
outputs when it has finished, else forecast ones (download: the source listing's videos and durations;
transcribe: speech at `words_per_second`; normalize: its chunks...). What a hook assumes, it says with
`ectx.assume`, and the report prints it. Token counts follow estimate mode (llm.EstimateSession).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .cache import Cache
from .config import Config
from .lifecycle import estimate_walk
from .llm import NAMESPACE, LLMClient
from .manifest import read_manifest
from .pipeline import StageSpec, stages
from .records import Kept, Normalized, Passage, Segment, Transcript, Video
from .rundir import RunDir

WORDS_PER_SECOND = 2.5  # speech: about 150 words a minute, a talking-head video's usual pace
SEGMENT_SECONDS = 5.0  # a transcript segment (whisper's and captions' are mostly 2-8 s)
SENTENCE_WORDS = 15  # a spoken sentence, once punctuated
# forecast speech is made of these words: 4.4 letters a word (English speech's average is 4.2-4.6), so the
# text has the characters, and so the tokens, that real speech of the same length has
FILLER = ("so", "the", "chain", "needs", "about", "three", "drops", "of", "light", "oil", "before", "every",
          "longer", "ride", "today")


def speech(seconds: float, words_per_second: float) -> list[Segment]:
    """Forecast transcript segments for `seconds` of speech: sentences of SENTENCE_WORDS words, in segments of
    SEGMENT_SECONDS."""
    total = round(seconds * words_per_second)
    words = [FILLER[i % len(FILLER)] for i in range(total)]
    for i in range(0, total, SENTENCE_WORDS):
        words[i] = words[i].capitalize()
        end = min(i + SENTENCE_WORDS, total) - 1
        words[end] += "."
    per_segment = max(1, round(SEGMENT_SECONDS * words_per_second))
    return [Segment(start=i / words_per_second, end=min(i + per_segment, total) / words_per_second,
                    text=" ".join(words[i:i + per_segment])) for i in range(0, total, per_segment)]


@dataclass
class Forecast:
    """The records the stages will have produced, real where a stage has finished, else forecast; each stage's
    hook fills in its own kind for the stages after it. None: nothing known (the stage is not installed, or no
    hook said)."""

    words_per_second: float = WORDS_PER_SECOND
    videos: list[Video] | None = None  # download's, with their durations
    transcripts: list[Transcript] | None = None
    normalized: list[Normalized] | None = None
    kept: list[Kept] | None = None  # the filter's
    passages: list[Passage] | None = None  # generate's own_words passages
    assumptions: list[str] = field(default_factory=list)


class EstimateContext:
    """What a stage's `estimate` hook gets: its config section, the run, the forecast so far, and an LLM client
    in estimate mode whose counts are the stage's forecast."""

    def __init__(self, spec: StageSpec, config: Config, run: RunDir, cache: Cache, forecast: Forecast,
                 log: logging.Logger):
        self.spec, self.config, self.run, self.cache, self.forecast, self.log = spec, config, run, cache, forecast, log
        self.section = config.section(spec.name, spec.section)
        self.usage: Counter[str] = Counter()
        self.notes: list[str] = []

    def finished(self, stage: str | None = None) -> Path | None:
        """The stage's directory (this one's by default) when it has finished in this run, else None."""
        directory = self.run.stage_dir(stage or self.spec.name)
        return directory if read_manifest(directory) is not None else None

    def llm(self, model: str | None = None) -> LLMClient:
        return LLMClient(self.config.llm, model, self.cache, self.log, self.usage, estimate=True,
                         stage=self.spec.name)

    def assume(self, text: str) -> None:
        """An assumption the forecast rests on, printed with the estimate."""
        self.forecast.assumptions.append(f"{self.spec.name}: {text}")

    def note(self, text: str) -> None:
        """A remark on this stage's row (what it will not ask, and why)."""
        self.notes.append(text)


@dataclass
class StageEstimate:
    stage: str
    basis: str  # "done" (current: asks nothing), "exact" (its inputs exist: real prompts), "forecast", "unknown"
    requests: int = 0  # to be paid for
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: int = 0  # answers the LLM cache already holds: they cost nothing
    cost: float | None = None  # in llm.prices' currency, when prices are set
    spent: dict[str, float] = field(default_factory=dict)  # a finished stage's manifest token_usage
    notes: list[str] = field(default_factory=list)


@dataclass
class ChainEstimate:
    run_id: str
    model: str | None
    rows: list[StageEstimate]
    currency: str | None
    budget: float | None
    cache_answers: int  # answers in the LLM cache, any run's
    assumptions: list[str]

    def total(self) -> StageEstimate:
        total = StageEstimate("total", "")
        for row in self.rows:
            total.requests += row.requests
            total.prompt_tokens += row.prompt_tokens
            total.completion_tokens += row.completion_tokens
            total.cached += row.cached
            if row.cost is not None:
                total.cost = (total.cost or 0.0) + row.cost
        return total

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "model": self.model, "currency": self.currency, "budget": self.budget,
                "stages": [asdict(row) for row in self.rows], "total": asdict(self.total()),
                "cache_answers": self.cache_answers, "assumptions": self.assumptions}


def estimate_chain(config: Config, log: logging.Logger, words_per_second: float = WORDS_PER_SECOND) -> ChainEstimate:
    run = RunDir.for_config(config)
    cache = Cache(config.cache_dir)
    forecast = Forecast(words_per_second=words_per_second)
    prices = config.llm.prices
    rows = []
    for spec in stages().values():
        walk = estimate_walk(spec, config, log) if spec.llm else None
        ectx = EstimateContext(spec, config, run, cache, forecast, log)
        spec.forecast(ectx)
        if not spec.llm:
            continue
        if walk is not None and walk.current:
            row = StageEstimate(spec.name, "done", spent=walk.spent)
        else:
            usage = walk.usage if walk is not None else ectx.usage
            row = StageEstimate(spec.name, "exact" if walk is not None else "forecast",
                                int(usage["estimated_requests"]), int(usage["estimated_prompt_tokens"]),
                                int(usage["estimated_completion_tokens"]), int(usage["cache_hits"]))
        row.notes = ectx.notes
        if walk is None and not spec.estimate:
            row.basis = "unknown"
            row.notes.append("its inputs do not exist yet and it declares no estimate hook: not counted")
        if prices:
            row.cost = prices.cost(row.prompt_tokens, row.completion_tokens)
        rows.append(row)
    return ChainEstimate(run.id, config.llm.model, rows, prices.currency if prices else None,
                         config.llm.budget,
                         cache_answers(cache), forecast.assumptions)


def cache_answers(cache: Cache) -> int:
    """How many answers the LLM cache holds (entries of llm/responses)."""
    root = cache.root / NAMESPACE
    if not root.is_dir():
        return 0
    return sum(len(os.listdir(shard)) for shard in root.iterdir() if shard.is_dir())


def report_lines(estimate: ChainEstimate, show) -> list[str]:
    """The lines under the table: total cost against the budget, the cache, the assumptions."""
    total, lines = estimate.total(), []
    if estimate.budget is not None and total.cost is not None:
        share = total.cost / estimate.budget if estimate.budget else float("inf")
        lines.append(f"llm.budget {show(estimate.budget)}: the estimate is {share:.0%} of it"
                     + (" (more than the budget allows)" if share > 1 else ""))
    elif total.cost is None:
        lines.append("no cost: set llm.prices (prompt_per_million, completion_per_million, currency) for one")
    if any(row.basis == "exact" for row in estimate.rows):
        lines.append(f"exact rows: {total.cached} answer(s) the LLM cache already holds are counted as cached and "
                     "cost nothing")
    if estimate.cache_answers and any(row.basis == "forecast" for row in estimate.rows):
        lines.append(f"forecast rows count every request as new; the LLM cache holds {estimate.cache_answers} "
                     "answer(s) from earlier runs, and any this run asks again (the same prompt, model and "
                     "settings) cost nothing")
    for row in estimate.rows:
        lines += [f"{row.stage}: {note}" for note in row.notes]
    if estimate.assumptions:
        lines.append("assumptions: " + "; ".join(estimate.assumptions))
    return lines
