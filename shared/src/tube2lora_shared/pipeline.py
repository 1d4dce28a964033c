"""The stage graph: every stage declares itself once, in its own package, and everything else reads it.

A stage package exposes one `StageSpec` (in its `cli.py`) and registers it as an entry point of the
group `tube2lora.stages` in its pyproject.toml:

    [project.entry-points."tube2lora.stages"]
    download = "tube2lora_download.cli:SPEC"

`stages()` finds the installed ones and orders them so that every stage comes after the stages it
reads. The Makefile (through `tube2lora stages --make`), the image builder, the docker runner, the
config loader, `tube2lora status|summary` and the tests all read this one graph: adding a stage is
its package, its recipe section, its compose service and its README lines.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import import_module, metadata
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .errors import UsageError

if TYPE_CHECKING:
    from .estimate import EstimateContext
    from .lifecycle import StageContext
    from .manifest import Manifest
    from .rundir import RunDir

ENTRY_POINTS = "tube2lora.stages"
# A stage image installs one stage; its Dockerfile names it here. Other stages' config sections
# cannot be checked inside it (the host's `make` did that before starting the container).
IMAGE_STAGE_ENV = "TUBE2LORA_IMAGE_STAGE"


@dataclass(frozen=True)
class Freshness:
    """How old a finished stage's look at the outside world is; read from its files only (no network)."""

    note: str  # for `tube2lora status`: "listed 2026-12-01 10:00 UTC: 12 videos from 1 source"
    due: str | None = None  # why it must look again now ("the listing is 26 h old ..."), or None


@dataclass(frozen=True)
class StageSpec:
    """One stage's declaration: what it is called, what it reads, what it needs."""

    name: str
    package: str  # the stage's distribution, e.g. "tube2lora-download"
    section: type[BaseModel]  # the model of the config section the stage owns
    # what does the work: a function of the StageContext, or "module:function" imported when the stage
    # runs (so reading the graph imports no stage's libraries)
    run: Callable[["StageContext"], None] | str
    description: str = ""  # one line, for `make help`
    upstream: tuple[str, ...] = ()  # the stage directories it reads (any earlier stages)
    reads: tuple[str, ...] = ()  # other config sections its output depends on, e.g. ("input",)
    llm: bool = False  # calls the LLM endpoint (llm section)
    gpu: bool = False  # wants a GPU when one is there
    hub_models: bool = False  # may fetch models from the Hugging Face Hub by name
    fetches_media: bool = False  # fetches from the video source: gets input.cookies_env / proxy_env
    libraries: tuple[str, ...] = ()  # distributions whose versions the manifest records
    # Its lines in `tube2lora summary`, given the run and its own manifest (a function, or "module:function")
    summary: Callable[["RunDir", "Manifest"], list[str]] | str | None = None
    # What `tube2lora chat` runs when this stage's output is what a person talks to ("module:function", given the
    # RunDir and the command's options as keywords); one stage at most declares it
    chat: Callable[..., int] | str | None = None
    publish: Callable[..., int] | str | None = None  # likewise `tube2lora publish` (to the Hugging Face Hub)
    # A stage whose output is a look at the outside world that ages (a channel's listing): "module:function" given
    # the RunDir and its config section, returning a Freshness; a finished stage whose look is due runs again
    freshness: Callable[..., "Freshness"] | str | None = None
    # What `tube2lora estimate` asks of this stage ("module:function", given an EstimateContext): put the records
    # it will produce into the forecast (its real outputs when it has finished, else forecast ones from the
    # records before it), and an LLM stage asks the questions it would ask of `ectx.llm()` (estimate mode)
    estimate: Callable[["EstimateContext"], None] | str | None = None

    def execute(self, ctx: "StageContext") -> None:
        _resolve(self.run)(ctx)

    def summary_lines(self, run: "RunDir", manifest: "Manifest") -> list[str]:
        return _resolve(self.summary)(run, manifest) if self.summary else []

    def check_freshness(self, run: "RunDir", section: BaseModel) -> "Freshness | None":
        return _resolve(self.freshness)(run, section) if self.freshness else None

    def open_chat(self, run: "RunDir", **options: Any) -> int:
        return _resolve(self.chat)(run, **options)

    def run_publish(self, run: "RunDir", **options: Any) -> int:
        return _resolve(self.publish)(run, **options)

    def forecast(self, ectx: "EstimateContext") -> None:
        if self.estimate:
            _resolve(self.estimate)(ectx)


def _resolve(function: Callable | str) -> Callable:
    if isinstance(function, str):
        module, _, name = function.partition(":")
        return getattr(import_module(module), name)
    return function


def _load(entry: metadata.EntryPoint) -> StageSpec:
    spec = entry.load()
    if not isinstance(spec, StageSpec) or spec.name != entry.name:
        raise UsageError(f"entry point {entry.value!r} ({ENTRY_POINTS}) does not name the StageSpec of "
                         f"stage {entry.name!r}; fix that package's pyproject.toml")
    return spec


@cache
def stages() -> dict[str, StageSpec]:
    """The installed stages by name, each after every stage it reads (ties: by name)."""
    found = {entry.name: entry for entry in metadata.entry_points(group=ENTRY_POINTS)}
    specs = {name: _load(entry) for name, entry in sorted(found.items())}
    return {name: specs[name] for name in topological_order(
        {name: [up for up in spec.upstream if up in specs] for name, spec in specs.items()})}


def topological_order(graph: dict[str, list[str]]) -> list[str]:
    """Names ordered so that each comes after the ones it lists; a cycle is an error naming it."""
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(graph):
        ready = sorted(name for name, ups in graph.items() if name not in placed and placed.issuperset(ups))
        if not ready:
            stuck = sorted(set(graph) - placed)
            raise UsageError(f"the stage graph has a cycle among {', '.join(stuck)}; fix their upstream declarations")
        order += ready[:1]
        placed.add(ready[0])
    return order


def stage_names() -> tuple[str, ...]:
    return tuple(stages())


def spec_of(name: str) -> StageSpec:
    try:
        return stages()[name]
    except KeyError:
        raise UsageError(f"unknown stage {name!r}; the installed stages are: {', '.join(stages())}") from None


def partial_install() -> bool:
    """Inside a stage image only that stage is installed, so other stages' sections are not known here."""
    return bool(os.environ.get(IMAGE_STAGE_ENV))


def downstream_of(name: str) -> tuple[str, ...]:
    """Every stage that reads `name`, directly or through others, in pipeline order."""
    found: set[str] = {name}
    for stage, spec in stages().items():
        if found.intersection(spec.upstream):
            found.add(stage)
    return tuple(stage for stage in stages() if stage in found and stage != name)


def make_include() -> str:
    """The graph as Make variables and help lines (`tube2lora stages --make` writes .make/stages.mk)."""
    specs = stages()
    lines = ["# generated by `tube2lora stages --make` from the stages' declarations; do not edit",
             f"STAGES := {' '.join(specs)}",
             f"LLM_STAGES := {' '.join(n for n, s in specs.items() if s.llm)}",
             f"GPU_STAGES := {' '.join(n for n, s in specs.items() if s.gpu)}"]
    lines += [f"UPSTREAM_{name} := {' '.join(spec.upstream)}" for name, spec in specs.items()]
    lines += ["##@ Stages (`make STAGE CONFIG=...` runs it and whatever it reads that is missing or stale)"]
    lines += [f"{name}: ## {spec.description} (stages/{name}/)" for name, spec in specs.items()]
    return "\n".join(lines) + "\n"


def describe(spec: StageSpec) -> dict[str, Any]:
    """The declaration as plain data (`tube2lora stages --json`)."""
    return {"name": spec.name, "package": spec.package, "description": spec.description,
            "upstream": list(spec.upstream), "reads": list(spec.reads), "llm": spec.llm, "gpu": spec.gpu,
            "hub_models": spec.hub_models, "fetches_media": spec.fetches_media}
