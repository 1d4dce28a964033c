"""The command line every stage shares: `tube2lora-<stage> --config FILE [--force] [...]`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .lifecycle import StageSpec, run_stage


def stage_command(spec: StageSpec) -> click.Command:
    @click.command(
        name=f"tube2lora-{spec.name}",
        help=f"Run the {spec.name} stage of the run that CONFIG defines. Exit 0: done or already "
        "current; 1: the stage failed (nothing published); 2: bad usage or config.",
    )
    @click.option("--config", "config_path", required=True, type=click.Path(path_type=Path),
                  help="The experiment recipe (YAML).")
    @click.option("--force", is_flag=True, help="Redo the stage even if its inputs did not change.")
    @click.option("--retry-failed", is_flag=True,
                  help="Also retry items that failed permanently before (private, removed...).")
    @click.option("--estimate", is_flag=True,
                  help="LLM stages: print how many calls and tokens a run would spend, and stop.")
    @click.option("-v", "--verbose", is_flag=True, help="Debug logging on stderr.")
    def command(config_path: Path, force: bool, retry_failed: bool, estimate: bool, verbose: bool) -> None:
        sys.exit(run_stage(spec, config_path, force=force, retry_failed=retry_failed, verbose=verbose,
                           estimate=estimate))

    return command
