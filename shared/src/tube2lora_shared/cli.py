"""The `tube2lora` command: look at runs.

    tube2lora status --config configs/sample.yaml    stages, counts, durations, errors
    tube2lora run-dir --config configs/sample.yaml   the run directory (Make computes targets with it)
    tube2lora run-dir --due --config FILE            ...and, on a second line, the stages due to look again (Make)
    tube2lora summary --config configs/sample.yaml   where the adapter, datasets and report are; headline numbers
    tube2lora stages [--make | --json]               the stage graph the installed stage packages declare
    tube2lora chat --config configs/demo.yaml        talk to the exported adapter (/base compares, /quit leaves)
    tube2lora chat --config configs/demo.yaml --ask-held-out   one held-out question: adapter vs the creator
    tube2lora publish --config FILE                  upload the exported adapter to export.hub_repo on the Hub
    tube2lora estimate --config FILE [--json]        every LLM stage's requests, tokens and cost, before paying
"""

from __future__ import annotations

import fcntl
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .config import Config, load_config
from .errors import StageError, UsageError
from .estimate import WORDS_PER_SECOND, estimate_chain, report_lines
from .lifecycle import freshness
from .logs import setup_logging
from .manifest import read_manifest
from .pipeline import describe, make_include, stage_names, stages
from .rundir import RunDir
from .summary import summary_lines

out = Console(width=None if Console().is_terminal else 160)

CONFIG_OPTION = click.option("--config", "config_path", required=True, type=click.Path(path_type=Path),
                             help="The experiment recipe (YAML).")


def _config(config_path: Path) -> Config:
    try:
        return load_config(config_path)
    except UsageError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def _run_dir(config_path: Path) -> RunDir:
    return RunDir.for_config(_config(config_path))


def _lock_is_free(run: RunDir) -> bool:
    try:
        with open(run.root / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
    except BlockingIOError:
        return False
    except FileNotFoundError:
        return True


@click.group()
def main() -> None:
    """tube2lora: a YouTube creator's videos in, a LoRA adapter out."""


@main.command("run-dir")
@CONFIG_OPTION
@click.option("--due", is_flag=True, help="Then, on a second line, the finished stages whose look at the outside "
              "world is old (a listing older than download.relist_after_hours): Make runs them. No network.")
def run_dir(config_path: Path, due: bool) -> None:
    """Print the run directory this config maps to (nothing is created)."""
    config = _config(config_path)
    run = RunDir.for_config(config)
    click.echo(run.root)
    if due:
        click.echo(" ".join(stage for stage, fresh in freshness(config, run).items() if fresh.due))


@main.command()
@CONFIG_OPTION
def status(config_path: Path) -> None:
    """Show the run id and each stage's status, counts, duration and last error."""
    config = _config(config_path)
    run = RunDir.for_config(config)
    stages = run.read_status().get("stages", {})
    idle = _lock_is_free(run)
    table = Table(title=f"run {run.id}", title_justify="left")
    for column in ("stage", "status", "success", "cached", "skipped", "failed", "seconds", "last error"):
        table.add_column(column, justify="right" if column in ("success", "cached", "skipped", "failed",
                                                               "seconds") else "left")
    for stage in stage_names():
        entry = stages.get(stage, {})
        manifest = read_manifest(run.stage_dir(stage))
        state = entry.get("status") or ("succeeded" if manifest else "not run")
        if state == "running" and idle:
            state = "interrupted"
        if manifest and state != "running":
            counts, seconds = manifest.counts, manifest.seconds
            state = "done" if state == "succeeded" else f"{state} (last done kept)"
        else:
            counts, seconds = entry.get("counts", {}), entry.get("seconds")
        table.add_row(stage, state, *(str(counts.get(k, "")) for k in ("success", "cached", "skipped", "failed")),
                      f"{seconds:.1f}" if isinstance(seconds, (int, float)) else "",
                      (entry.get("last_error") or "")[:120])
    out.print(table, soft_wrap=False)
    for stage, fresh in freshness(config, run).items():  # what download's listing saw, and when
        due = f"; due: {fresh.due}, the next `make` looks again" if fresh.due else ""
        out.print(f"{stage}: {fresh.note}{due}", soft_wrap=True, markup=False, highlight=False)
    usage: dict[str, float] = {}
    for stage in stage_names():
        manifest = read_manifest(run.stage_dir(stage))
        for key, value in (manifest.token_usage if manifest else {}).items():
            usage[key] = usage.get(key, 0) + value
    if usage:
        prices = config.llm.prices
        cost = f", {prices.show(usage['cost_usd']) if prices else '$' + format(usage['cost_usd'], '.4f')}" \
            if "cost_usd" in usage else ""
        out.print(f"LLM: {usage.get('requests', 0):.0f} requests, {usage.get('prompt_tokens', 0):.0f} prompt + "
                  f"{usage.get('completion_tokens', 0):.0f} completion tokens, {usage.get('cache_hits', 0):.0f} "
                  f"answers from the cache{cost}")
    out.print(f"run directory: {run.root}")


@main.command()
@CONFIG_OPTION
def summary(config_path: Path) -> None:
    """Where the run's adapter, datasets and report are, with the headline numbers."""
    for line in summary_lines(_run_dir(config_path)):
        click.echo(line)


@main.command()
@CONFIG_OPTION
@click.option("--ask-held-out", is_flag=True,
              help="Ask one held-out question and print the adapter's answer beside the creator's real one.")
@click.option("--backend", type=click.Choice(["auto", "llama.cpp", "transformers"]), default="auto", show_default=True,
              help="auto: llama.cpp with the GGUF adapter when export found a GGUF base, else transformers + PEFT.")
@click.option("--temperature", type=float, default=0.7, show_default=True, help="0 is greedy decoding.")
@click.option("--max-tokens", type=int, default=200, show_default=True, help="The longest answer, in tokens.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed (the same for /base).")
def chat(config_path: Path, **options) -> None:
    """Talk to the trained adapter: streamed answers in the persona, /base for the base model's answer."""
    run = _run_dir(config_path)
    speakers = [spec for spec in stages().values() if spec.chat]
    try:
        if not speakers:
            raise UsageError("no installed stage provides `tube2lora chat` (the export stage does: uv sync)")
        sys.exit(speakers[0].open_chat(run, config_path=config_path, **options))
    except (UsageError, StageError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


@main.command()
@CONFIG_OPTION
def publish(config_path: Path) -> None:
    """Upload the exported adapter, its card, adapter.gguf and the dataset card to export.hub_repo."""
    run = _run_dir(config_path)
    publishers = [spec for spec in stages().values() if spec.publish]
    try:
        if not publishers:
            raise UsageError("no installed stage provides `tube2lora publish` (the export stage does: uv sync)")
        sys.exit(publishers[0].run_publish(run, config_path=config_path))
    except (UsageError, StageError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


@main.command()
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="As JSON: per stage, the total, the assumptions.")
@click.option("--words-per-second", type=click.FloatRange(min=0.1), default=WORDS_PER_SECOND, show_default=True,
              help="The creator's pace of speech, for videos not transcribed yet.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging on stderr.")
def estimate(config_path: Path, as_json: bool, words_per_second: float, verbose: bool) -> None:
    """Every LLM stage's requests, tokens and cost for the whole chain, before anything is paid: exact where a
    stage's inputs exist (cached answers cost nothing), else forecast from the videos' durations or the listing."""
    log = setup_logging("estimate", verbose=verbose)
    try:
        config = load_config(config_path)
        found = estimate_chain(config, log, words_per_second)
    except (UsageError, StageError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    if as_json:
        click.echo(json.dumps(found.as_json(), indent=2))
        return
    prices = config.llm.prices
    show = prices.show if prices else str
    table = Table(title=f"LLM estimate for run {found.run_id} (model {found.model})", title_justify="left")
    for column in ("stage", "basis", "requests", "prompt tokens", "completion tokens", "cached", "cost"):
        table.add_column(column, justify="left" if column in ("stage", "basis") else "right")
    for row in [*found.rows, found.total()]:
        table.add_row(row.stage, row.basis, f"{row.requests:,}", f"{row.prompt_tokens:,}",
                      f"{row.completion_tokens:,}", f"{row.cached:,}", "" if row.cost is None else show(row.cost),
                      end_section=row.stage == found.rows[-1].stage if found.rows else False)
    out.print(table, soft_wrap=False)
    for line in report_lines(found, show):
        out.print(line, soft_wrap=True, highlight=False, markup=False)


@main.command("stages")
@click.option("--make", "as_make", is_flag=True, help="As Make variables and help lines (the Makefile's include).")
@click.option("--json", "as_json", is_flag=True, help="As JSON: each stage's declaration.")
def stages_command(as_make: bool, as_json: bool) -> None:
    """The stages in pipeline order, with what each reads and needs."""
    try:
        graph = stages()
    except UsageError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    if as_make:
        click.echo(make_include(), nl=False)
    elif as_json:
        click.echo(json.dumps([describe(spec) for spec in graph.values()], indent=2))
    else:
        for name, spec in graph.items():
            needs = ", ".join(need for need, flag in (("LLM", spec.llm), ("GPU", spec.gpu)) if flag)
            click.echo(f"{name:<11} <- {', '.join(spec.upstream) or '(the input URLs)'}"
                       + (f"  [{needs}]" if needs else "") + f"  {spec.description}")


if __name__ == "__main__":
    main()
