"""Run one stage in its container: Make's RUNNER=docker.

    python docker/run_stage.py STAGE --config FILE [--force]

Runs `tube2lora/<STAGE>` with the same command line as the local runner. The recipe's directory,
the files it references, the runs directory and the cache are mounted at their host paths, so
every path in the recipe means the same inside and outside. The container runs as the calling
user (files in the runs directory stay yours) on the host network (the loopback sample channel and
LLM servers that `make` serves, or one on 127.0.0.1:8000, answer as they do for RUNNER=local).
The LLM stages get the variables the recipe names (llm.api_key_env, llm.base_url_env) passed
through by name, so a key never appears on a command line; no other stage sees them. GPU stages get
`--gpus all` when the host has `nvidia-smi` (TUBE2LORA_GPUS=none|all|"device=0" overrides).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from images import STAGES, ImageError, build_specs, docker_client, image_inputs, input_hash, require_engine

from tube2lora_shared.config import load_config
from tube2lora_shared.errors import UsageError
from tube2lora_shared.pipeline import spec_of

REPO = Path(__file__).resolve().parent.parent
# Set on machines whose CPUs older OpenBLAS builds mishandle; numpy's kernels (whisper's features) follow
# them, so a stage in a container gives the same bytes as the local runner only with the same settings.
MACHINE_SETTINGS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def mounts(config) -> list[tuple[Path, str]]:
    """(host path, mode) for what the stage reads and writes, outermost first, none nested twice."""
    wanted = [(config.path.parent, "ro"), *((ref.path.parent, "ro") for ref in config.files.values()),
              (config.runs_dir, "rw"), (config.cache_dir, "rw")]
    chosen: list[tuple[Path, str]] = []
    for path, mode in sorted(wanted, key=lambda item: (len(item[0].parts), item[1] != "rw")):
        same = next((i for i, (p, _) in enumerate(chosen) if p == path), None)
        if same is not None:
            if mode == "rw":
                chosen[same] = (path, "rw")
            continue
        if any(_inside(path, p) and m == mode for p, m in chosen):
            continue  # already visible through its parent, with the same access
        chosen.append((path, mode))
    return chosen


def cookies_file(config, env: dict[str, str]) -> str | None:
    """The cookies file input.cookies_env names, checked: mounted at its own path, it must be absolute and exist
    (Docker would otherwise make an empty directory there, and yt-dlp would find no cookies)."""
    name = config.input.cookies_env
    value = env.get(name or "")
    if not value:
        return None  # unset: the stage itself says so (exit 2), as with RUNNER=local
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise UsageError(f"input.cookies_env: {name} holds a relative path ({value}); RUNNER=docker mounts the file "
                         f"at its own path, so give an absolute one (export {name}=\"$PWD/{value}\")")
    if not path.is_file():
        raise UsageError(f"input.cookies_env: {name} names {path}, which is not a file; export a browser's "
                         "cookies to it (Netscape cookies.txt) or remove input.cookies_env")
    return str(path)


def docker_command(client: str, stage: str, config, force: bool, env: dict[str, str]) -> list[str]:
    cmd = [client, "run", "--rm", "--init", "--network", "host", "--user", f"{os.getuid()}:{os.getgid()}",
           "--workdir", str(config.path.parent)]
    for path, mode in mounts(config):
        cmd += ["--volume", f"{path}:{path}:{mode}"]
    spec = spec_of(stage)
    if spec.llm:
        for name in (config.llm.api_key_env, config.llm.base_url_env):
            if name and name in env:
                cmd += ["--env", name]  # by name: the value comes from this environment
    if spec.fetches_media:  # source access: cookies and proxy, by name; the cookies file read-only
        for name in (config.input.cookies_env, config.input.proxy_env):
            if name and name in env:
                cmd += ["--env", name]
        cookies = cookies_file(config, env)
        if cookies:
            cmd += ["--volume", f"{cookies}:{cookies}:ro"]
    if spec.hub_models:
        cmd += ["--env", f"HF_HOME={config.cache_dir / 'huggingface'}"]
        if "HF_TOKEN" in env:
            cmd += ["--env", "HF_TOKEN"]
    for name in MACHINE_SETTINGS:
        if name in env:
            cmd += ["--env", name]  # the container computes as the local runner does on this machine
    gpus = env.get("TUBE2LORA_GPUS") or ("all" if shutil.which("nvidia-smi") else "none")
    if spec.gpu and gpus != "none":
        cmd += ["--gpus", gpus]
    return [*cmd, f"tube2lora/{stage}", "--config", str(config.path), *(["--force"] if force else [])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config.resolve())
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        client = docker_client()
        require_engine(client)
        spec = build_specs((REPO / "compose.yaml").read_text())[args.stage]
        built = image_inputs(client, spec["image"])
        if built is None:
            raise ImageError(f"the engine has no image {spec['image']}: build it with `make images`")
        if built != input_hash(args.stage, spec):
            print(f"warning: {spec['image']} was built from other inputs (sources or build arguments) than these; "
                  "`make images` rebuilds it", file=sys.stderr)
    except ImageError as exc:
        print(f"error: RUNNER=docker: {exc}", file=sys.stderr)
        return 2
    for path, _ in mounts(config):
        path.mkdir(parents=True, exist_ok=True)  # made by the engine, it would belong to root
    try:
        cmd = docker_command(client, args.stage, config, args.force, dict(os.environ))
    except UsageError as exc:
        print(f"error: RUNNER=docker: {exc}", file=sys.stderr)
        return 2
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main())
