"""The container tier (marker `docker`): a Docker engine, the stage images built on a local base image,
download -> filter run in containers against the loopback sample channel and fake LLM, equal to the
local runner's outputs, and `make images` rebuilding only what an edit touched.

No registry is reachable here, so the base image is made with debootstrap (Debian bookworm, its
Python 3.11, the machine's CA bundle so builds can reach the package index) and substituted for the
real bases through compose's build arguments. When no engine answers at DOCKER_HOST, the session
starts its own dockerd (vfs, no bridge; data root under ~/.cache/tube2lora/docker, reused by the next
run) and stops it at the end. Needs root for that, `docker.io` and `debootstrap` (apt-get install).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from harness import REPO

from tube2lora_shared.pipeline import stage_names

pytestmark = pytest.mark.docker

CACHE = Path(os.environ.get("TUBE2LORA_DOCKER_CACHE") or Path.home() / ".cache" / "tube2lora" / "docker")
# v2: its root directory is 0755 (pytest's temporary directories are 0700, and a root of 0700 kept the
# images' unprivileged user from running anything); the base image's label names the version too
ROOTFS_VERSION = "v2"
ROOTFS_TAR = CACHE / f"bookworm-minbase-python3.{ROOTFS_VERSION}.tar"
BASE_IMAGE = "tube2lora-test/base:bookworm"
# the CPU images, and transcribe's (its CUDA base swapped for the same local base: CTranslate2 runs on CPU)
CHAIN = list(stage_names()[: stage_names().index("filter") + 1])  # download ... filter
IMAGES = [*CHAIN, "generate"]
INSTALL = "install it with `apt-get install docker.io debootstrap` (as root)"


def docker(env: dict, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"docker {' '.join(args[:3])} failed: {result.stderr.strip()[-2000:]}")
    return result


def _answers(env: dict) -> bool:
    return docker(env, "version", "--format", "{{.Server.Version}}", timeout=30, check=False).returncode == 0


@pytest.fixture(scope="session")
def engine():
    """An environment whose DOCKER_HOST answers: the caller's engine, or one started here."""
    env = dict(os.environ)
    if not shutil.which("docker"):
        pytest.fail(f"the docker client is missing: {INSTALL}")
    if _answers(env):
        yield env
        return
    dockerd = shutil.which("dockerd")
    if not dockerd:
        pytest.fail(f"no Docker engine answers and dockerd is missing: {INSTALL}, or set DOCKER_HOST")
    if os.geteuid() != 0:
        pytest.fail("no Docker engine answers and starting one needs root: run as root, or start dockerd and "
                    "set DOCKER_HOST (docker/README.md)")
    CACHE.mkdir(parents=True, exist_ok=True)
    lock = (CACHE / "engine.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pytest.fail(f"another test session runs an engine on {CACHE / 'engine'}; wait for it to finish")
    run = Path(tempfile.mkdtemp(prefix="t2l-engine-", dir="/tmp"))  # short: socket paths are limited
    log = (run / "dockerd.log").open("w")
    proc = subprocess.Popen(
        [dockerd, "--data-root", str(CACHE / "engine"), "--exec-root", str(run / "exec"),
         "--pidfile", str(run / "docker.pid"), "--storage-driver", "vfs", "--iptables=false", "--bridge=none",
         "-H", f"unix://{run / 'docker.sock'}"], stdout=log, stderr=subprocess.STDOUT)
    env["DOCKER_HOST"] = f"unix://{run / 'docker.sock'}"
    try:
        deadline = time.monotonic() + 90
        while not _answers(env):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dockerd did not start: {(run / 'dockerd.log').read_text()[-2000:]}")
            time.sleep(1)
        yield env
        # vfs copies every layer in full: drop superseded images and all but the recent build cache
        docker(env, "image", "prune", "--force", check=False)
        docker(env, "builder", "prune", "--force", "--keep-storage", "4gb", check=False)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        _unmount_under(run)  # dockerd leaves its network namespace mounted in the exec root
        shutil.rmtree(run, ignore_errors=True)
        lock.close()


def _unmount_under(directory: Path) -> None:
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for point in sorted((p for p in points if p.startswith(f"{directory}/")), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True)


def _ca_bundle() -> Path:
    for candidate in [os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"]:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.fail("no CA bundle to give the base image (set SSL_CERT_FILE, or apt-get install ca-certificates)")


@pytest.fixture(scope="session")
def base_image(engine, tmp_path_factory) -> str:
    """Debian bookworm minbase with python3 and this machine's CA bundle, as a local image."""
    ca = _ca_bundle()
    ca_hash = f"{hashlib.sha256(ca.read_bytes()).hexdigest()[:16]}-{ROOTFS_VERSION}"
    label = docker(engine, "image", "inspect", "--format", '{{index .Config.Labels "io.tube2lora.ca"}}', BASE_IMAGE,
                   check=False)
    if label.returncode == 0 and label.stdout.strip() == ca_hash:
        return BASE_IMAGE
    if not ROOTFS_TAR.is_file():
        debootstrap = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
        if not debootstrap:
            pytest.fail(f"debootstrap is missing (it makes the local base image): {INSTALL}")
        rootfs = tmp_path_factory.mktemp("rootfs")
        made = subprocess.run([debootstrap, "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
                               "bookworm", str(rootfs)], capture_output=True, text=True, timeout=1200)
        if made.returncode != 0:
            pytest.fail(f"debootstrap failed: {made.stdout[-1500:]}{made.stderr[-1500:]}")
        rootfs.chmod(0o755)  # the image's `/`: every user must be able to traverse it
        ROOTFS_TAR.parent.mkdir(parents=True, exist_ok=True)
        part = ROOTFS_TAR.with_suffix(".part")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(part), "."], check=True)
        part.replace(ROOTFS_TAR)
        shutil.rmtree(rootfs, ignore_errors=True)
    docker(engine, "import", str(ROOTFS_TAR), "tube2lora-test/rootfs:bookworm")
    context = tmp_path_factory.mktemp("base")
    shutil.copyfile(ca, context / "host-ca-bundle.crt")
    bundle = "/etc/ssl/certs/host-ca-bundle.crt"
    (context / "Dockerfile").write_text(
        "FROM tube2lora-test/rootfs:bookworm\n"
        f"COPY host-ca-bundle.crt {bundle}\n"
        f"ENV SSL_CERT_FILE={bundle} PIP_CERT={bundle} REQUESTS_CA_BUNDLE={bundle}\n"
        f"LABEL io.tube2lora.ca={ca_hash}\n")
    docker(engine, "build", "--quiet", "--tag", BASE_IMAGE, str(context))
    return BASE_IMAGE


def make(env: dict, *args: str, cwd: Path = REPO, timeout: float = 1500) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(cwd), *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="session")
def build_env(engine, base_image) -> dict:
    """The environment `make images` builds the test images with: the local base for every image."""
    return {**engine, "TUBE2LORA_CPU_BASE": base_image, "TUBE2LORA_CUDNN_BASE": base_image,
            "DOCKER_BUILD_FLAGS": "--network host --quiet"}  # no bridge here; the index is reached on the host's


@pytest.fixture(scope="session")
def stage_images(build_env) -> dict:
    built = make(build_env, "images", f"IMAGES={' '.join(IMAGES)}")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    # vfs copies every layer in full: the build cache of these images does not fit beside their containers' copies
    # (the transcribe image alone is 7 GB, twice over per container); keep only the recent part
    docker(build_env, "builder", "prune", "--force", "--keep-storage", "4gb", check=False)
    return build_env


def _write_recipes(directory: Path) -> tuple[Path, Path]:
    """Two copies of configs/sample.yaml that differ only in paths.runs_dir (so: one run id)."""
    shutil.copytree(REPO / "configs" / "prompts", directory / "prompts")
    text = (REPO / "configs" / "sample.yaml").read_text()
    assert "runs_dir: ../runs" in text
    local, container = directory / "local.yaml", directory / "docker.yaml"
    local.write_text(text.replace("runs_dir: ../runs", "runs_dir: runs-local"))
    container.write_text(text.replace("runs_dir: ../runs", "runs_dir: runs-docker"))
    return local, container


def _run_dir(runs: Path) -> Path:
    (run,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    return run


TIMINGS = re.compile(r"seconds$|real_time_factor$")  # wall-clock measurements, per item


def _without_timings(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if not TIMINGS.search(k)}
            for line in path.read_text().splitlines()]


def _tree(directory: Path) -> dict[str, str]:
    return {p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_download_to_filter_in_containers_equals_the_local_runner(stage_images, tmp_path):
    local, container = _write_recipes(tmp_path)
    by_local = make(dict(os.environ), "filter", f"CONFIG={local}", timeout=900)
    assert by_local.returncode == 0, by_local.stderr[-3000:]
    started = time.monotonic()
    by_docker = make(stage_images, "filter", f"CONFIG={container}", "RUNNER=docker", timeout=1200)
    assert by_docker.returncode == 0, by_docker.stdout[-2000:] + by_docker.stderr[-3000:]
    print(f"download -> filter in containers: {time.monotonic() - started:.0f} s")
    for stage in CHAIN:  # each stage ran in its container, from an image of these very sources
        assert f"docker run --rm --init --network host --user {os.getuid()}:{os.getgid()}" in by_docker.stderr
        assert re.search(rf"tube2lora/{stage} --config {re.escape(str(container))}\n", by_docker.stderr), stage
    assert "built from other inputs" not in by_docker.stderr

    run_local, run_docker = _run_dir(tmp_path / "runs-local"), _run_dir(tmp_path / "runs-docker")
    assert run_local.name == run_docker.name  # the run id does not depend on where runs go
    for stage in CHAIN:
        a = json.loads((run_local / "stages" / stage / "manifest.json").read_text())
        b = json.loads((run_docker / "stages" / stage / "manifest.json").read_text())
        # Every output but metrics.jsonl and listing.json is byte-identical: records, transcripts, texts.
        timed = {"metrics.jsonl", "listing.json"}
        outputs = {name for name in a["outputs"] if name not in timed}
        assert outputs and outputs == {name for name in b["outputs"] if name not in timed}
        for name in outputs:
            assert a["outputs"][name] == b["outputs"][name], (stage, name)
        if stage == "download":  # the listing: the same videos and digests, listed at different times
            local_listing, docker_listing = (json.loads((run / "stages/download/listing.json").read_text())
                                             for run in (run_local, run_docker))
            assert local_listing.pop("listed_at") and docker_listing.pop("listed_at")
            assert local_listing == docker_listing and local_listing["videos"] == 10
        # metrics.jsonl holds per-item timings (seconds, real-time factor); all else in it is equal. It is an
        # output, so output_hash, and the downstream stages' upstream and input hashes, differ with the timings.
        metrics = "stages/{}/metrics.jsonl".format(stage)
        assert _without_timings(run_local / metrics) == _without_timings(run_docker / metrics)
        for key in ["stage", "run_id", "code_version", "config", "items", "counts", "library_versions", "token_usage"]:
            assert a[key] == b[key], (stage, key)
        assert a["counts"]["success"] == 8
    assert _tree(run_local / "artifacts") == _tree(run_docker / "artifacts")  # the media, byte for byte
    owners = {p.stat().st_uid for p in run_docker.rglob("*")}
    assert owners == {os.getuid()}  # the caller's files, not the image's user's


def test_images_hold_the_stage_and_no_build_tools(stage_images):
    env = stage_images
    info = json.loads(docker(env, "image", "inspect", "tube2lora/filter").stdout)[0]["Config"]
    assert info["User"] == "10001:10001"
    # the commit the image was built from: HEAD, or an earlier one when no input changed since
    revision = info["Labels"]["org.opencontainers.image.revision"]
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", revision), revision
    ancestor = subprocess.run(["git", "-C", str(REPO), "merge-base", "--is-ancestor", revision[:40], "HEAD"])
    assert ancestor.returncode == 0, revision
    assert info["Labels"]["org.opencontainers.image.title"] == "tube2lora-filter"
    probe = ("for tool in uv pip gcc cc ffmpeg; do command -v $tool >/dev/null && echo has:$tool; done; "
             "for dir in /src /opt/uv /root/.cache/uv; do [ -e $dir ] && echo has:$dir; done; "
             "python -c 'import tube2lora_filter, tube2lora_shared; print(tube2lora_filter.__file__)'; "
             "tube2lora-filter --help | head -1; id -u")
    out = docker(env, "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", "tube2lora/filter", "-c", probe)
    lines = out.stdout.split()
    assert not [line for line in lines if line.startswith("has:")], out.stdout
    assert lines[0].startswith("/app/.venv/lib/") and lines[-1] == "10001"  # installed, not an editable source
    media = docker(env, "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", "tube2lora/download", "-c",
                   "command -v ffmpeg; command -v ffprobe; python -c 'import tube2lora_download, tube2lora_media'")
    assert media.stdout.split() == ["/usr/bin/ffmpeg", "/usr/bin/ffprobe"]


def _copy_inputs(target: Path) -> Path:
    for name in ["pyproject.toml", "uv.lock", ".dockerignore", "compose.yaml", "Makefile"]:
        shutil.copy2(REPO / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ["shared", "libs", "stages", "docker"]:
        shutil.copytree(REPO / name, target / name, ignore=ignore)
    return target


def _build(env: dict, repo: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(repo / "docker" / "images.py"), "build", *IMAGES], env=env,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_an_edited_stage_rebuilds_only_its_image_then_nothing(stage_images, tmp_path):
    env = stage_images
    copy = _copy_inputs(tmp_path)
    assert "building" not in _build(env, copy).stderr  # same content elsewhere: every image is current
    module = copy / "stages/filter/src/tube2lora_filter/run.py"
    module.write_text(module.read_text() + "\n# edited by the container tier\n")
    try:
        rebuilt = _build(env, copy).stderr
        assert re.findall(r"images: building (\S+)", rebuilt) == ["tube2lora/filter"], rebuilt
        assert rebuilt.count("is current") == len(IMAGES) - 1
        inside = docker(env, "run", "--rm", "--network", "none", "--entrypoint", "python", "tube2lora/filter", "-c",
                        "import inspect, tube2lora_filter.run as m; print(inspect.getsource(m).splitlines()[-1])")
        assert inside.stdout.strip() == "# edited by the container tier"
        assert (copy / ".images/filter.stamp").read_text().split()[0] != \
            (REPO / ".images/filter.stamp").read_text().split()[0]
        again = _build(env, copy).stderr
        assert "building" not in again and again.count("is current") == len(IMAGES)
    finally:  # put this checkout's filter image back
        restored = make(env, "images", "IMAGES=filter")
        assert restored.returncode == 0, restored.stderr[-2000:]
    assert "images: building tube2lora/filter" in restored.stderr

