"""The stage lifecycle, one implementation for every stage.

`run_stage()` loads the config, validates the stage's section, takes the run lock, reads the upstream
manifests, decides whether anything changed (input hash = config slice + upstream output hashes +
code version), runs the stage into a staging directory under `<run>/.tmp/`, applies the failure policy,
and publishes atomically: artifacts first, then the stage directory whose `manifest.json` was written
last. A stage that fails publishes nothing; its finished item work stays in the cross-run cache.

A stage whose output is a look at the outside world (download's channel listing) declares its freshness: once that
look is due, the finished stage runs again (`ctx.refresh` says why); when it finds nothing new it keeps what is
published (`ctx.keep_published`), manifest and mtime untouched, so nothing downstream runs.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from .budget import run_spent
from .cache import Cache
from .config import Config, load_config
from .errors import StageError, UsageError
from .files import write_text_atomic
from .hashing import sha256_json, source_digest
from .identity import section_hash
from .jsonl import append_jsonl
from .llm import LLMClient
from .lock import RunLock
from .logs import setup_logging
from .manifest import MANIFEST, ItemStatus, Manifest, describe_outputs, manifest_json, read_manifest
from .pipeline import Freshness, StageSpec, stages
from .progress import track
from .rundir import RunDir, now_iso

T = TypeVar("T")
EPOCH = 0  # mtime given to a manifest with retryable failures, so Make runs the stage again


@dataclass(frozen=True)
class Kept:
    why: str
    looked: bool


@dataclass(frozen=True)
class Upstream:
    name: str
    dir: Path
    manifest: Manifest


class StageContext:
    """What a stage's `run()` gets: its config, where to write, the cache, and item bookkeeping."""

    def __init__(self, spec: StageSpec, config: Config, section: Any, run: RunDir, cache: Cache,
                 staging: Path, upstream: dict[str, Upstream], force: bool, retry_failed: bool,
                 log: logging.Logger, estimate: bool = False, input_hash: str = "", refresh: str | None = None):
        self.spec = spec
        self.config = config
        self.section = section
        self.run = run
        self.cache = cache
        self.out_dir = staging / "stage"
        self.artifacts_staging = staging / "artifacts"
        self.upstream = upstream
        self.force = force
        self.retry_failed = retry_failed
        self.estimate = estimate  # count what would be asked of the LLM, spend nothing, publish nothing
        self.input_hash = input_hash  # what this stage's output is a function of (keys resumable work)
        self.refresh = refresh  # why a finished, current stage looks at the outside world again, or None
        self.kept: Kept | None = None  # set by keep_published(): publish nothing
        self.log = log
        self.items: dict[str, ItemStatus] = {}
        self.counts: Counter[str] = Counter()
        self.token_usage: Counter[str] = Counter()
        self.spent_before = 0.0  # the run directory's LLM spending before this attempt (llm.budget counts from it)
        self.out_dir.mkdir(parents=True)

    def record(self, item: str, status: str, reason: str | None = None, error: str | None = None,
               retryable: bool = False) -> None:
        """Note what became of one item; skips and failures are counted by reason."""
        self.items[item] = ItemStatus(status=status, reason=reason, error=error, retryable=retryable)
        self.counts[status] += 1
        if status == "skipped" and reason:
            self.counts[f"dropped_{reason}"] += 1
        elif status == "failed" and reason:
            self.counts[f"failed_{reason}"] += 1

    def keep_published(self, why: str, looked: bool = True) -> None:
        """A refresh found nothing new (or could not look: `looked` False, so the next run looks again): the
        published output stays as it is, manifest and mtime untouched, so Make runs nothing downstream."""
        self.kept = Kept(why, looked)

    def metric(self, **row: Any) -> None:
        append_jsonl(self.out_dir / "metrics.jsonl", row)

    def artifact(self, name: str) -> tuple[Path, str]:
        """A heavy output file: where to write it now, and its run-relative path once published."""
        path = self.artifacts_staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, f"artifacts/{self.spec.name}/{name}"

    def track(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        return track(items, f"{self.spec.name}: {description}", total)

    def llm(self, model: str | None = None) -> LLMClient:
        """The LLM client for this stage: the `llm` section's endpoint, `model` or llm.model, the run's cache,
        log and token books; in estimate mode it asks nothing (cache misses are counted instead)."""
        return LLMClient(self.config.llm, model, self.cache, self.log, self.token_usage, estimate=self.estimate,
                         stage=self.spec.name, spent_before=self.spent_before)


def versions(names: Iterable[str]) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def run_stage(spec: StageSpec, config_path: Path, force: bool = False, retry_failed: bool = False,
              verbose: bool = False, estimate: bool = False) -> int:
    """Run one stage to completion; return the contract's exit code (0 done/current, 1 failed, 2 usage).

    Under a multi-process launcher (torchrun, accelerate: RANK > 0) only rank 0 keeps the books (lock,
    run.json, publishing); the other ranks run the same stage code in a private scratch directory, so
    collective operations (DDP, FSDP) line up, and their outputs are dropped.
    """
    if int(os.environ.get("RANK", "0")) > 0:
        return _run_worker(spec, config_path, force, verbose)
    log = setup_logging(spec.name, verbose=verbose)
    try:
        config = load_config(config_path)
        section = config.section(spec.name, spec.section)
        run = RunDir.for_config(config)
        run.ensure(config)
    except UsageError as exc:
        log.error("%s", exc)
        return exc.exit_code
    log = setup_logging(spec.name, run.log_file, verbose)
    try:
        with RunLock(run.root):
            return _run_locked(spec, config, section, run, force, retry_failed, log, estimate)
    except (UsageError, StageError) as exc:
        log.error("%s", exc)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error("%s interrupted; re-run to resume (finished items are cached)", spec.name)
        return 130


def _run_worker(spec: StageSpec, config_path: Path, force: bool, verbose: bool) -> int:
    import tempfile

    log = setup_logging(f"{spec.name}.rank{os.environ['RANK']}", verbose=verbose)
    try:
        config = load_config(config_path)
        section = config.section(spec.name, spec.section)
        run = RunDir.for_config(config)
        upstream = _read_upstream(spec, run, config)
        inputs = _inputs(spec, config, upstream)
        if _is_current(read_manifest(run.stage_dir(spec.name)), inputs["input_hash"], force, False):
            return 0
        with tempfile.TemporaryDirectory(prefix=f"tube2lora-{spec.name}-rank") as scratch:
            ctx = StageContext(spec, config, section, run, Cache(config.cache_dir), Path(scratch) / "work",
                               upstream, force, False, log, False, inputs["input_hash"])
            spec.execute(ctx)
        return 0
    except (UsageError, StageError) as exc:
        log.error("%s", exc)
        return exc.exit_code


def code_version(spec: StageSpec) -> str:
    """The stage's and shared's versions, and a digest of the stage's own sources: an edited stage counts as new
    code and re-runs (shared's and the libraries' changes come with their version numbers)."""
    found = versions([spec.package, "tube2lora-shared"])
    digest = source_digest(spec.package)
    if digest:
        found[spec.package] += f" (sources {digest})"
    return "; ".join(f"{k} {v}" for k, v in found.items())


def _inputs(spec: StageSpec, config: Config, upstream: dict[str, Upstream]) -> dict[str, Any]:
    """What the stage's output is a function of, and its hash (the manifest records all of it)."""
    found = {"code_version": code_version(spec),
             "config": section_hash(config, (spec.name, *spec.reads)),
             "upstream": {name: up.manifest.output_hash for name, up in upstream.items()}}
    found["input_hash"] = sha256_json({"config": found["config"], "upstream": found["upstream"],
                                       "code": found["code_version"]})
    return found


def look(spec: StageSpec, section: Any, run: RunDir) -> Freshness | None:
    """How old a finished stage's look at the outside world is (None: the stage declares no freshness); an
    unreadable record is due (looking again repairs it). Reads files only."""
    try:
        return spec.check_freshness(run, section)
    except (StageError, UsageError, OSError, ValueError) as exc:
        return Freshness(f"its record could not be read ({exc})", due="its freshness record could not be read")


def refresh_due(spec: StageSpec, section: Any, run: RunDir) -> str | None:
    """Why a finished stage must look at the outside world again now, or None."""
    found = look(spec, section, run)
    return found.due if found else None


def freshness(config: Config, run: RunDir) -> dict[str, Freshness]:
    """The finished stages that look at the outside world (download's listing): what each saw, and whether it is
    due (Make runs those: `tube2lora run-dir --due`; `tube2lora status` shows them)."""
    found = {}
    for name, spec in stages().items():
        if spec.freshness and read_manifest(run.stage_dir(name)) is not None:
            fresh = look(spec, config.section(name, spec.section), run)
            if fresh:
                found[name] = fresh
    return found


def _is_current(previous: Manifest | None, input_hash: str, force: bool, retry_failed: bool) -> bool:
    return bool(previous and previous.input_hash == input_hash and not force and not retry_failed
                and not previous.retryable())


def _read_upstream(spec: StageSpec, run: RunDir, config: Config) -> dict[str, Upstream]:
    found = {}
    for name in spec.upstream:
        manifest = read_manifest(run.stage_dir(name))
        if manifest is None:
            raise StageError(
                f"stage {name} has not finished in run {run.id}; run `make {name} CONFIG={config.path}` "
                f"first (or `make {spec.name}`, which runs it for you)"
            )
        found[name] = Upstream(name, run.stage_dir(name), manifest)
    return found


def _run_locked(spec: StageSpec, config: Config, section: Any, run: RunDir, force: bool,
                retry_failed: bool, log: logging.Logger, estimate: bool = False) -> int:
    upstream = _read_upstream(spec, run, config)
    inputs = _inputs(spec, config, upstream)
    input_hash = inputs["input_hash"]

    previous = read_manifest(run.stage_dir(spec.name))
    refresh = None
    if _is_current(previous, input_hash, force, retry_failed):
        refresh = None if estimate else refresh_due(spec, section, run)
        if refresh is None:
            os.utime(run.stage_dir(spec.name) / MANIFEST)  # tell Make it is current
            log.info("%s is current in run %s; nothing to do (--force redoes it)", spec.name, run.id)
            return 0
        log.info("%s: %s; looking again", spec.name, refresh)

    shutil.rmtree(run.tmp, ignore_errors=True)  # leftovers of a killed run; we hold the lock
    staging = run.tmp / f"{spec.name}-{os.getpid()}"
    ctx = StageContext(spec, config, section, run, Cache(config.cache_dir), staging, upstream, force,
                       retry_failed, log, estimate, input_hash, refresh)
    if estimate:
        return _estimate(ctx, staging)
    ctx.spent_before, spent_here = run_spent(run, spec.name)  # every attempt's spending counts, a failed one too
    started, clock = now_iso(), time.monotonic()
    run.update_stage(spec.name, status="running", pid=os.getpid(), started_at=started, last_error=None)
    log.info("%s: starting in run %s", spec.name, run.id)
    try:
        spec.execute(ctx)
        if ctx.kept is None:  # a kept output is judged as it was published
            _check_failure_policy(ctx, config)
    except BaseException as exc:
        message = _failure_message(spec, exc, run)
        run.update_stage(spec.name, status="failed", counts=dict(ctx.counts), last_error=message,
                         seconds=round(time.monotonic() - clock, 2), token_usage=dict(ctx.token_usage),
                         cost_spent=spent_here + ctx.token_usage["cost_usd"])
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, KeyboardInterrupt):
            raise
        if isinstance(exc, UsageError):
            raise
        if not isinstance(exc, StageError):
            log.debug("traceback", exc_info=exc)
        raise StageError(message) from None

    if ctx.kept is not None:
        shutil.rmtree(run.tmp, ignore_errors=True)  # the staging, published nowhere; we hold the lock
        looked = {"refreshed_at": now_iso()} if ctx.kept.looked else {}
        run.update_stage(spec.name, status="succeeded", last_error=None, **looked)
        log.info("%s: %s; the published output stays as it is in run %s", spec.name, ctx.kept.why, run.id)
        return 0
    outputs, output_hash = describe_outputs(ctx.out_dir)
    seconds = round(time.monotonic() - clock, 3)
    manifest = Manifest(
        stage=spec.name, run_id=run.id, input_hash=input_hash, code_version=inputs["code_version"],
        config=inputs["config"], upstream=inputs["upstream"], outputs=outputs, output_hash=output_hash,
        items=ctx.items, counts=dict(ctx.counts), started_at=started, finished_at=now_iso(),
        seconds=seconds, token_usage=dict(ctx.token_usage),
        library_versions=versions(["tube2lora-shared", spec.package, "pydantic", *spec.libraries]),
    )
    write_text_atomic(ctx.out_dir / MANIFEST, manifest_json(manifest))
    _publish(run, spec.name, staging)
    retry = manifest.retryable()
    if retry:
        os.utime(run.stage_dir(spec.name) / MANIFEST, (EPOCH, EPOCH))
        log.warning("%d item(s) failed or are incomplete after a retryable error; the next run retries them: %s",
                    len(retry), ", ".join(retry[:5]) + (" ..." if len(retry) > 5 else ""))
    run.update_stage(spec.name, status="succeeded", counts=dict(ctx.counts), seconds=seconds,
                     finished_at=manifest.finished_at, last_error=None, token_usage=dict(ctx.token_usage),
                     cost_spent=spent_here + ctx.token_usage["cost_usd"])
    log.info("%s: done in %.1f s: %s -> %s", spec.name, seconds, summarize(ctx.counts),
             run.stage_dir(spec.name))
    return 0


def _estimate(ctx: StageContext, staging: Path) -> int:
    """Walk the stage with the LLM client in estimate mode; report, publish nothing."""
    try:
        ctx.spec.execute(ctx)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    usage, prices = ctx.token_usage, ctx.config.llm.prices
    cost = (f", about {prices.show(prices.cost(usage['estimated_prompt_tokens'], usage['estimated_completion_tokens']))}"
            if prices else "")
    ctx.log.info("%s estimate: %d LLM call(s) to make (about %d prompt and %d completion tokens%s), %d answered "
                 "from the cache; nothing was asked or published", ctx.spec.name, usage["estimated_requests"],
                 usage["estimated_prompt_tokens"], usage["estimated_completion_tokens"], cost, usage["cache_hits"])
    return 0


@dataclass
class Walk:
    """What `estimate_walk` found: the stage is current (nothing to ask), or its walk's token books."""

    current: bool
    usage: Counter
    spent: dict[str, float]  # a current stage's manifest token_usage: what it already cost


def estimate_walk(spec: StageSpec, config: Config, log: logging.Logger) -> Walk | None:
    """The stage's own `--estimate` walk, for `tube2lora estimate`: its real prompts, cache hits counted, misses
    estimated, in a scratch directory outside the run (no lock taken, nothing written there). None when a stage
    it reads has not finished in this run (only a forecast can tell then)."""
    run = RunDir.for_config(config)
    if any(read_manifest(run.stage_dir(name)) is None for name in spec.upstream):
        return None
    upstream = _read_upstream(spec, run, config)
    inputs = _inputs(spec, config, upstream)
    previous = read_manifest(run.stage_dir(spec.name))
    if _is_current(previous, inputs["input_hash"], False, False):
        return Walk(True, Counter(), dict(previous.token_usage))
    with tempfile.TemporaryDirectory(prefix=f"tube2lora-estimate-{spec.name}-") as scratch:
        ctx = StageContext(spec, config, config.section(spec.name, spec.section), run, Cache(config.cache_dir),
                           Path(scratch), upstream, False, False, log, True, inputs["input_hash"])
        spec.execute(ctx)
    return Walk(False, ctx.token_usage, {})


def summarize(counts: dict[str, int]) -> str:
    main = [f"{counts[k]} {k}" for k in ("success", "cached", "skipped", "failed") if counts.get(k)]
    why = [f"{k}={v}" for k, v in sorted(counts.items()) if k.startswith(("dropped_", "failed_"))]
    return ", ".join(main or ["no items"]) + (f" ({', '.join(why)})" if why else "")


def _check_failure_policy(ctx: StageContext, config: Config) -> None:
    failed = ctx.counts.get("failed", 0)
    attempted = failed + ctx.counts.get("success", 0) + ctx.counts.get("cached", 0)
    if not failed:
        return
    rate = failed / attempted
    where = "see logs/pipeline.log; re-run to retry them (finished items are cached)"
    if not config.pipeline.continue_on_error:
        raise StageError(f"{failed} item(s) failed and pipeline.continue_on_error is false; {where}")
    if rate > config.pipeline.max_failure_rate:
        raise StageError(
            f"{failed} of {attempted} items failed ({rate:.0%}), above pipeline.max_failure_rate="
            f"{config.pipeline.max_failure_rate:g}; {where}"
        )


def _failure_message(spec: StageSpec, exc: BaseException, run: RunDir) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return f"{spec.name} interrupted; re-run to resume (finished items are cached)"
    if isinstance(exc, (StageError, UsageError)):
        return str(exc)
    return f"{spec.name} failed: {type(exc).__name__}: {exc}; the traceback is in {run.log_file}"


def _publish(run: RunDir, stage: str, staging: Path) -> None:
    """Swap the staged outputs in: old stage dir out first (no manifest), artifacts, then the stage."""
    trash = staging / "old"
    trash.mkdir()
    final_stage, final_artifacts = run.stage_dir(stage), run.artifacts_dir(stage)
    final_stage.parent.mkdir(parents=True, exist_ok=True)
    final_artifacts.parent.mkdir(parents=True, exist_ok=True)
    if final_stage.exists():
        final_stage.rename(trash / "stage")
    if final_artifacts.exists():
        final_artifacts.rename(trash / "artifacts")
    if (staging / "artifacts").exists():
        (staging / "artifacts").rename(final_artifacts)
    (staging / "stage").rename(final_stage)
    shutil.rmtree(run.tmp, ignore_errors=True)
