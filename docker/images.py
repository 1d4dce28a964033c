"""The stage images: what goes into each one, which are stale, and which a diff touches.

    python docker/images.py build [STAGE ...]        build the images whose inputs changed (make images)
    python docker/images.py changed --base REV       print the stages a diff against REV touches
    python docker/images.py status                   show each image's state

compose.yaml is the one place that says how a stage's image is built (its `build:` section: the
Dockerfile and the build arguments, `${VAR:-default}` read from the environment as compose does).
An image's inputs are its Dockerfile, .dockerignore, the root pyproject.toml, uv.lock, shared/, the
stage's package and every workspace member it depends on, transitively (download, transcribe ->
libs/media; analyze, train, evaluate -> libs/models), and its build arguments. Their content hash is stored in `.images/<stage>.stamp` and in the
image's `io.tube2lora.inputs` label; an image is rebuilt only when the engine's image carries
another hash (or the engine lacks the image), so a second `make images` is a no-op. The revision
label is not an input: a commit that changes nothing an image holds rebuilds nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import yaml

from tube2lora_shared.pipeline import stage_names

REPO = Path(__file__).resolve().parent.parent
STAMPS = REPO / ".images"
STAGES = list(stage_names())  # the stage graph (each stage package declares itself)
COMMON_INPUTS = ["pyproject.toml", "uv.lock", ".dockerignore", "shared"]
NOT_INPUTS = {"REVISION", "CREATED"}  # labels only
SKIPPED_NAMES = {"__pycache__", ".pytest_cache", ".venv", ".ruff_cache"}
INPUTS_LABEL = "io.tube2lora.inputs"


class ImageError(Exception):
    """A problem the user can fix; the message says how."""


# --- compose.yaml -------------------------------------------------------------------------------

def _dotenv(repo: Path) -> dict[str, str]:
    env = {}
    path = repo / ".env"
    if path.is_file():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                env[key.strip()] = value.strip().strip("'\"")
    return env


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable syntax: $$, ${VAR}, ${VAR:-default}, ${VAR-default}."""

    def sub(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.group("name"), match.group("op"), match.group("default") or ""
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    return re.sub(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?-)(?P<default>[^}]*))?\}", sub, str(value))


def build_specs(compose_text: str, env: dict[str, str] | None = None) -> dict[str, dict]:
    """stage -> {"dockerfile": path, "args": {...}, "image": name} from compose.yaml's text."""
    env = {**_dotenv(REPO), **os.environ} if env is None else env
    services = yaml.safe_load(compose_text).get("services") or {}
    specs = {}
    for stage in STAGES:
        service = services.get(stage)
        if not service or "build" not in service:
            raise ImageError(f"compose.yaml: service {stage!r} has no build section")
        build = service["build"]
        specs[stage] = {
            "image": interpolate(service.get("image", f"tube2lora/{stage}"), env),
            "dockerfile": interpolate(build.get("dockerfile", "Dockerfile"), env),
            "args": {key: interpolate(val, env) for key, val in (build.get("args") or {}).items()},
        }
    return specs


# --- inputs -------------------------------------------------------------------------------------

def workspace_closure(stage: str, repo: Path = REPO) -> list[str]:
    """The member directories an image installs besides shared/ (a common input): the stage and the
    workspace members (libs/<name>) it depends on, transitively, e.g. ["libs/media", "stages/transcribe"]."""
    by_package = {}
    for pyproject in [*(repo / "libs").glob("*/pyproject.toml"), *(repo / "stages").glob("*/pyproject.toml")]:
        by_package[tomllib.loads(pyproject.read_text())["project"]["name"]] = pyproject.parent.relative_to(repo).as_posix()
    seen, todo = [], [f"stages/{stage}"]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        data = tomllib.loads((repo / current / "pyproject.toml").read_text())
        for name, source in (data.get("tool", {}).get("uv", {}).get("sources") or {}).items():
            if source.get("workspace") and name in by_package:
                todo.append(by_package[name])
    return sorted(seen)


def input_paths(stage: str, spec: dict, repo: Path = REPO) -> list[str]:
    """The repo-relative files and directories an image is built from."""
    return [spec["dockerfile"], *COMMON_INPUTS, *workspace_closure(stage, repo)]


def _files(path: Path):
    if path.is_file():
        yield path
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_NAMES and not d.endswith(".egg-info"))
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                yield Path(root) / name


def input_hash(stage: str, spec: dict, repo: Path = REPO) -> str:
    digest = hashlib.sha256()
    args = {k: v for k, v in spec["args"].items() if k not in NOT_INPUTS}
    digest.update(json.dumps(args, sort_keys=True).encode())
    for top in input_paths(stage, spec, repo):
        if not (repo / top).exists():
            raise ImageError(f"{stage}: input {top} is missing")
        for file in _files(repo / top):
            digest.update(file.relative_to(repo).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


# --- the engine ---------------------------------------------------------------------------------

def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def docker_client() -> str:
    """The docker CLI: $DOCKER, else `docker`."""
    client = os.environ.get("DOCKER") or "docker"
    if not shutil.which(client):
        raise ImageError(f"no docker client ({client}) on PATH: install Docker (apt-get install docker.io)")
    return client


def require_engine(client: str) -> None:
    answer = _run([client, "version", "--format", "{{.Server.Version}}"])
    if answer.returncode != 0:
        where = os.environ.get("DOCKER_HOST") or "the default socket (/var/run/docker.sock)"
        raise ImageError(
            f"no Docker engine answers at {where}: start one (`systemctl start docker`, or as root "
            "`dockerd &`; see docker/README.md) or set DOCKER_HOST, or use RUNNER=local")


def build_client(client: str) -> tuple[str, dict[str, str]]:
    """A client that builds with BuildKit (the Dockerfile uses cache mounts) and its environment."""
    env = dict(os.environ)
    if _run([client, "buildx", "version"]).returncode == 0:
        return client, env
    env["DOCKER_BUILDKIT"] = "1"
    for candidate in [client, "/usr/bin/docker"]:
        version = _run([candidate, "version", "--format", "{{.Client.Version}}"]) if shutil.which(candidate) else None
        if version and version.stdout and int(version.stdout.split(".")[0]) < 23:
            return candidate, env  # BuildKit built into the CLI (Debian's docker.io 20.10)
    raise ImageError("docker build needs BuildKit: install the buildx plugin (docker-buildx-plugin), "
                     "or set DOCKER to a client with BuildKit built in (Debian's docker.io: DOCKER=/usr/bin/docker)")


def image_inputs(client: str, image: str) -> str | None:
    """The inputs hash the engine's image was built from; None when the engine lacks the image."""
    answer = _run([client, "image", "inspect", "--format", f'{{{{index .Config.Labels "{INPUTS_LABEL}"}}}}', image])
    return answer.stdout.strip() if answer.returncode == 0 else None


def _revision(paths: list[str]) -> str:
    head = _run(["git", "-C", str(REPO), "rev-parse", "HEAD"])
    if head.returncode != 0:
        return "unknown"
    dirty = _run(["git", "-C", str(REPO), "status", "--porcelain", "--", *paths]).stdout.strip()
    return head.stdout.strip() + ("-dirty" if dirty else "")


def stamp_path(stage: str) -> Path:
    return STAMPS / f"{stage}.stamp"


def _write_stamp(stamp: Path, digest: str, image: str) -> None:
    text = f"{digest} {image}\n"
    if not stamp.is_file() or stamp.read_text() != text:
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(text)


def build(stages: list[str], flags: list[str]) -> int:
    specs = build_specs((REPO / "compose.yaml").read_text())
    client = docker_client()
    require_engine(client)
    builder, env = build_client(client)
    for stage in stages:
        spec = specs[stage]
        digest = input_hash(stage, spec)
        stamp = stamp_path(stage)
        built = image_inputs(client, spec["image"])
        if built == digest:
            print(f"images: {spec['image']} is current", file=sys.stderr)
            _write_stamp(stamp, digest, spec["image"])
            continue
        recorded = stamp.read_text().split()[0] if stamp.is_file() else None
        reason = ("not in this engine" if built is None and recorded == digest
                  else "new" if built is None else "inputs changed")
        args = {**spec["args"], "REVISION": _revision(input_paths(stage, spec)),
                "CREATED": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        cmd = [builder, "build", "-f", spec["dockerfile"], "-t", spec["image"], "--label", f"{INPUTS_LABEL}={digest}",
               *(f"--build-arg={key}={value}" for key, value in args.items()), *flags, "."]
        print(f"images: building {spec['image']} ({reason})", file=sys.stderr)
        started = time.monotonic()
        if subprocess.run(cmd, cwd=REPO, env=env).returncode != 0:
            print(f"error: building {spec['image']} failed (see the output above)", file=sys.stderr)
            return 1
        _write_stamp(stamp, digest, spec["image"])
        print(f"images: built {spec['image']} in {time.monotonic() - started:.0f} s", file=sys.stderr)
        # the image this one replaces is untagged now: remove it at once (with the vfs storage driver every layer
        # is a full copy, and rebuilding every stage while the old images stay filled a 45 GB disk)
        _run([client, "image", "prune", "--force", "--filter", f"label={INPUTS_LABEL}"])
    return 0


# --- diffs --------------------------------------------------------------------------------------

def _build_inputs(spec: dict | None) -> dict | None:
    return spec and {**spec, "args": {k: v for k, v in spec["args"].items() if k not in NOT_INPUTS}}


def changed_stages(base: str, repo: Path = REPO) -> list[str]:
    """The stages whose image inputs differ between revision `base` and the working tree."""
    diff = _run(["git", "-C", str(repo), "diff", "--name-only", base, "--"])
    if diff.returncode != 0:
        raise ImageError(f"git diff against {base!r} failed: {diff.stderr.strip()}")
    untracked = _run(["git", "-C", str(repo), "ls-files", "--others", "--exclude-standard"]).stdout
    files = set(diff.stdout.split()) | set(untracked.split())
    now = build_specs((repo / "compose.yaml").read_text())
    touched = set()
    if "compose.yaml" in files:
        before = _run(["git", "-C", str(repo), "show", f"{base}:compose.yaml"])
        try:
            then = build_specs(before.stdout) if before.returncode == 0 else {}
        except ImageError:
            then = {}
        touched |= {stage for stage in STAGES if _build_inputs(then.get(stage)) != _build_inputs(now[stage])}
    for stage in STAGES:
        for top in input_paths(stage, now[stage], repo):
            if any(f == top or f.startswith(top + "/") for f in files):
                touched.add(stage)
    return [stage for stage in STAGES if stage in touched]


def status() -> int:
    specs = build_specs((REPO / "compose.yaml").read_text())
    client = docker_client()
    require_engine(client)
    for stage in STAGES:
        digest = input_hash(stage, specs[stage])
        built = image_inputs(client, specs[stage]["image"])
        state = "missing" if built is None else "current" if built == digest else "stale: `make images`"
        print(f"{specs[stage]['image']:<24} {state}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the images whose inputs changed")
    b.add_argument("stages", nargs="*", metavar="STAGE")
    c = sub.add_parser("changed", help="print the stages whose images a diff touches")
    c.add_argument("--base", required=True, metavar="REV")
    sub.add_parser("status", help="show each image's state")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            unknown = sorted(set(args.stages) - set(STAGES))
            if unknown:
                raise ImageError(f"unknown stage(s) {' '.join(unknown)}; the stages are: {' '.join(STAGES)}")
            wanted = [s for s in STAGES if s in (args.stages or STAGES)]
            return build(wanted, os.environ.get("DOCKER_BUILD_FLAGS", "").split())
        if args.command == "changed":
            print(" ".join(changed_stages(args.base)))
            return 0
        return status()
    except ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
