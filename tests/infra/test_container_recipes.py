"""The container recipes without an engine: Dockerfiles and compose.yaml lint clean, GPUs and the LLM key
go only where they are needed, `changed-stages` and the image stamps follow the workspace's
dependencies, and RUNNER=docker explains itself when no engine answers."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from harness import REPO

from tube2lora_shared.pipeline import stages

STAGES = list(stages())  # the stage graph: what compose.yaml and the images are held against
GPU_STAGES = {name for name, spec in stages().items() if spec.gpu}
LLM_STAGES = {name for name, spec in stages().items() if spec.llm}
BIN = Path(sys.executable).parent


def _module(name: str):
    sys.path.insert(0, str(REPO / "docker"))  # run_stage imports its neighbour `images`
    spec = importlib.util.spec_from_file_location(f"docker_{name}", REPO / "docker" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


images = _module("images")
run_stage = _module("run_stage")


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if not path:
        pytest.fail(f"{name} is missing: it is in the root dev group; run `make sync` (uv sync --all-packages)")
    return path


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def _gpu_reserved(service: dict) -> bool:
    devices = (((service.get("deploy") or {}).get("resources") or {}).get("reservations") or {}).get("devices") or []
    return any("gpu" in (device.get("capabilities") or []) for device in devices)


def test_every_dockerfile_lints_clean_and_hadolint_can_fail(tmp_path):
    dockerfiles = sorted((REPO / "docker").glob("*Dockerfile"))
    assert {p.name for p in dockerfiles} >= {"Dockerfile", "llm-cpu.Dockerfile"}
    result = subprocess.run([_tool("hadolint"), *map(str, dockerfiles)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update\nRUN apt-get install -y ffmpeg\n")
    assert subprocess.run([_tool("hadolint"), str(bad)], capture_output=True).returncode != 0


def test_compose_matches_the_compose_spec_and_the_check_can_fail(tmp_path):
    check = [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
    result = subprocess.run([*check, str(REPO / "compose.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  download:\n    image: tube2lora/download\n    gpus_please: 1\n")
    assert subprocess.run([*check, str(bad)], capture_output=True).returncode != 0


def test_every_stage_has_a_service_and_exactly_the_gpu_stages_reserve_gpus(compose):
    services = compose["services"]
    assert set(services) == {*STAGES, "llm", "llm-cpu"}  # a service per declared stage, and the LLM servers
    for stage in STAGES:
        assert services[stage]["image"] == f"tube2lora/{stage}"
        assert services[stage]["build"]["args"]["STAGE"] == stage
        assert services[stage]["build"]["dockerfile"] == "docker/Dockerfile"
    assert {s for s in STAGES if _gpu_reserved(services[s])} == GPU_STAGES
    assert _gpu_reserved(services["llm"]) and "vllm" in services["llm"]["image"]
    assert not _gpu_reserved(services["llm-cpu"])
    assert services["llm"]["profiles"] == ["gpu"] and services["llm-cpu"]["profiles"] == ["cpu"]
    # the CUDA stages build on CUDA bases by default, the others on a plain Python image
    for stage in STAGES:
        base = services[stage]["build"]["args"]["BASE_IMAGE"]
        assert ("nvidia/cuda:" in base) == (stage in GPU_STAGES), (stage, base)
    assert "cudnn" in services["transcribe"]["build"]["args"]["BASE_IMAGE"]


def test_media_stages_get_ffmpeg_and_the_others_do_not(compose):
    apt = {s: compose["services"][s]["build"]["args"]["APT_PACKAGES"] for s in STAGES}
    assert {s for s, packages in apt.items() if "ffmpeg" in packages} == {"download", "transcribe"}


def test_only_llm_users_see_the_api_key(compose):
    def sees_key(service: dict) -> bool:
        env = service.get("environment") or []
        names = env.keys() if isinstance(env, dict) else [e.split("=")[0] for e in env]
        return "TUBE2LORA_LLM_API_KEY" in names or "TUBE2LORA_LLM_API_KEY" in str(service.get("entrypoint"))

    users = {name for name, service in compose["services"].items() if sees_key(service)}
    assert users == LLM_STAGES | {"llm", "llm-cpu"}
    # compose-time `${VAR:?}` would make every service (every `docker compose run`) require the key;
    # only the servers' own shells (`$${...:?}`) may insist on it
    assert not re.search(r"(?<!\$)\$\{\w+:?\?", (REPO / "compose.yaml").read_text())


def test_stage_services_mount_recipes_and_runs_at_the_same_relative_paths(compose):
    for stage in STAGES:
        service = compose["services"][stage]
        assert service["working_dir"] == "/work"
        assert "./configs:/work/configs:ro" in service["volumes"]
        assert "./runs:/work/runs" in service["volumes"]
        assert not str(service["user"]).startswith("0")


def test_images_read_their_build_arguments_from_compose_with_overrides():
    specs = images.build_specs((REPO / "compose.yaml").read_text(), env={"TUBE2LORA_CPU_BASE": "local/base:1"})
    assert specs["filter"]["args"]["BASE_IMAGE"] == "local/base:1"
    assert specs["train"]["args"]["BASE_IMAGE"].startswith("nvidia/cuda:")
    assert images.build_specs((REPO / "compose.yaml").read_text(), env={})["filter"]["args"]["BASE_IMAGE"] \
        == "python:3.11-slim-bookworm"
    assert images.workspace_closure("transcribe") == ["libs/media", "stages/transcribe"]
    assert images.workspace_closure("evaluate") == ["libs/models", "stages/evaluate"]
    assert images.workspace_closure("analyze") == ["libs/models", "stages/analyze"]
    assert images.workspace_closure("filter") == ["stages/filter"]


@pytest.fixture
def scratch(tmp_path) -> Path:
    """A git repository holding a copy of every image input, committed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ["pyproject.toml", "uv.lock", ".dockerignore", "compose.yaml"]:
        shutil.copy2(REPO / name, repo / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ["shared", "libs", "stages", "docker"]:
        shutil.copytree(REPO / name, repo / name, ignore=ignore)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    return repo


def _edit(path: Path, text: str = "\n# edited\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(text)


@pytest.mark.parametrize("edited, expected", [
    ("stages/filter/src/tube2lora_filter/run.py", ["filter"]),
    ("stages/download/src/tube2lora_download/run.py", ["download"]),  # no stage imports another
    ("stages/train/src/tube2lora_train/run.py", ["train"]),
    ("libs/media/src/tube2lora_media/ytdlp.py", ["download", "transcribe"]),
    ("libs/models/src/tube2lora_models/chat.py", ["analyze", "train", "evaluate", "export"]),
    ("libs/models/pyproject.toml", ["analyze", "train", "evaluate", "export"]),
    ("shared/src/tube2lora_shared/hashing.py", STAGES),
    ("uv.lock", STAGES),
    ("pyproject.toml", STAGES),
    ("docker/Dockerfile", STAGES),
    ("docker/README.md", []),
    ("docker/llm-cpu.Dockerfile", []),
    ("stages/generate/src/tube2lora_generate/new_module.py", ["generate"]),  # untracked files count too
])
def test_changed_stages_follow_the_workspace_dependencies(scratch, edited, expected):
    _edit(scratch / edited)
    assert images.changed_stages("HEAD", repo=scratch) == expected


def test_changed_stages_reads_build_arguments_from_compose(scratch):
    text = (scratch / "compose.yaml").read_text()
    head, tail = text.split("  filter:\n", 1)
    (scratch / "compose.yaml").write_text(head + "  filter:\n" + tail.replace('APT_PACKAGES: ""', "APT_PACKAGES: tini", 1))
    assert images.changed_stages("HEAD", repo=scratch) == ["filter"]
    (scratch / "compose.yaml").write_text(text + "\n# a comment only\n")
    assert images.changed_stages("HEAD", repo=scratch) == []


def test_make_changed_stages_needs_a_base_and_prints_stages():
    missing = subprocess.run(["make", "-s", "-C", str(REPO), "changed-stages"], capture_output=True, text=True)
    assert missing.returncode != 0 and "BASE=" in missing.stderr
    result = subprocess.run(["make", "-s", "-C", str(REPO), "changed-stages", "BASE=HEAD"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) <= set(STAGES)


def test_input_hash_follows_content_not_mtimes(scratch):
    specs = images.build_specs((scratch / "compose.yaml").read_text(), env={})
    before = {s: images.input_hash(s, specs[s], repo=scratch) for s in STAGES}
    (scratch / "stages/download/pyproject.toml").touch()
    assert {s: images.input_hash(s, specs[s], repo=scratch) for s in STAGES} == before
    _edit(scratch / "libs/media/src/tube2lora_media/ytdlp.py")
    after = {s: images.input_hash(s, specs[s], repo=scratch) for s in STAGES}
    assert {s for s in STAGES if after[s] != before[s]} == {"download", "transcribe"}
    rebased = images.build_specs((scratch / "compose.yaml").read_text(), env={"TUBE2LORA_CPU_BASE": "other:1"})
    assert images.input_hash("filter", rebased["filter"], repo=scratch) != after["filter"]
    revised = {**specs["filter"], "args": {**specs["filter"]["args"], "REVISION": "abc"}}
    assert images.input_hash("filter", revised, repo=scratch) == after["filter"]


def test_docker_runner_passes_the_key_by_name_and_only_to_llm_stages(recipe, tmp_path):
    from tube2lora_shared.config import load_config

    path = recipe(llm={"base_url": "https://llm.example/v1", "api_key_env": "MY_LLM_KEY", "model": "m"},
                  paths={"runs_dir": "runs", "cache_dir": str(tmp_path / "elsewhere" / "cache")})
    config = load_config(path)
    env = {"MY_LLM_KEY": "sk-secret-value", "HF_TOKEN": "hf-secret", "TUBE2LORA_GPUS": "none"}
    normalize = run_stage.docker_command("docker", "normalize", config, False, env)
    filter_ = run_stage.docker_command("docker", "filter", config, True, env)
    train = run_stage.docker_command("docker", "train", config, False, {**env, "TUBE2LORA_GPUS": "all"})
    assert "sk-secret-value" not in " ".join(normalize + filter_ + train)
    assert "hf-secret" not in " ".join(train)
    assert normalize[normalize.index("MY_LLM_KEY") - 1] == "--env"
    assert "MY_LLM_KEY" not in filter_ and "MY_LLM_KEY" not in train
    assert "HF_TOKEN" in train and "HF_TOKEN" not in filter_
    assert train[train.index("--gpus") + 1] == "all" and "--gpus" not in filter_ + normalize
    assert filter_[-4:] == ["tube2lora/filter", "--config", str(path), "--force"]
    volumes = [filter_[i + 1] for i, arg in enumerate(filter_) if arg == "--volume"]
    assert volumes == [f"{tmp_path}:{tmp_path}:ro", f"{tmp_path / 'runs'}:{tmp_path / 'runs'}:rw",
                       f"{tmp_path / 'elsewhere' / 'cache'}:{tmp_path / 'elsewhere' / 'cache'}:rw"]
    assert filter_[filter_.index("--network") + 1] == "host"


def test_docker_runner_passes_source_access_and_machine_settings(recipe, tmp_path):
    from tube2lora_shared.config import load_config

    config = load_config(recipe(input={"urls": ["https://www.youtube.com/@x"], "cookies_env": "MY_COOKIES",
                                       "proxy_env": "MY_PROXY"}))
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    env = {"MY_COOKIES": str(cookies), "MY_PROXY": "http://user:pw@proxy:3128", "TUBE2LORA_GPUS": "none",
           "OPENBLAS_CORETYPE": "Haswell"}
    download = run_stage.docker_command("docker", "download", config, False, env)
    filter_ = run_stage.docker_command("docker", "filter", config, False, env)
    assert download[download.index("MY_PROXY") - 1] == "--env" and "user:pw" not in " ".join(download)
    assert f"{cookies}:{cookies}:ro" in download and "MY_COOKIES" in download
    assert "MY_PROXY" not in filter_ and str(cookies) not in " ".join(filter_)
    for command in (download, filter_):  # a container computes as the local runner does on this machine
        assert command[command.index("OPENBLAS_CORETYPE") - 1] == "--env"


def test_docker_runner_source_access_by_name_with_the_cookies_file_read_only(recipe, tmp_path):
    """Both media-fetching stages get the variables by name (never their values) and the cookies file mounted
    read-only at its own path; a cookies path Docker could not mount is a usage error naming the variable."""
    from tube2lora_shared.config import load_config
    from tube2lora_shared.errors import UsageError

    config = load_config(recipe(input={"urls": ["https://www.youtube.com/@x"], "cookies_env": "YT_COOKIES",
                                       "proxy_env": "YT_PROXY"}))
    cookies = tmp_path / "secret" / "cookies.txt"
    cookies.parent.mkdir()
    cookies.write_text("# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t0\tSID\tsecret-sid\n")
    env = {"YT_COOKIES": str(cookies), "YT_PROXY": "socks5://user:hunter2@10.0.0.1:1080", "TUBE2LORA_GPUS": "none"}
    for stage in ("download", "transcribe"):
        command = run_stage.docker_command("docker", stage, config, False, env)
        line = " ".join(command)
        assert [command[command.index(n) - 1] for n in ("YT_COOKIES", "YT_PROXY")] == ["--env", "--env"]
        assert "hunter2" not in line and "secret-sid" not in line and "YT_PROXY=" not in line
        assert command[command.index(f"{cookies}:{cookies}:ro") - 1] == "--volume"
        assert f"{cookies.parent}:" not in line  # the file alone, not its directory
    unset = run_stage.docker_command("docker", "download", config, False, {"TUBE2LORA_GPUS": "none"})
    assert "YT_COOKIES" not in unset and str(cookies) not in " ".join(unset)  # unset: the stage says so itself

    for value, words in (("cookies.txt", "relative path"), (str(tmp_path / "missing.txt"), "not a file")):
        with pytest.raises(UsageError, match=words) as refused:
            run_stage.docker_command("docker", "download", config, False, {**env, "YT_COOKIES": value})
        assert "input.cookies_env: YT_COOKIES" in str(refused.value)
    assert not (tmp_path / "missing.txt").exists()


def test_runner_docker_without_an_engine_says_how_to_start_one(recipe, tmp_path):
    path = recipe(input={"urls": ["http://127.0.0.1:9/feed.xml"]})
    result = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "download", f"CONFIG={path}",
                             "RUNNER=docker"], env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    if "no docker client" not in result.stderr:  # a machine without Docker at all gets that sentence instead
        assert f"error: RUNNER=docker: no Docker engine answers at unix://{tmp_path}/no-engine.sock" in result.stderr
        assert "dockerd" in result.stderr and "RUNNER=local" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("manifest.json"))


def test_unknown_runner_is_refused(recipe):
    result = subprocess.run(["make", "-C", str(REPO), "download", f"CONFIG={recipe()}", "RUNNER=podman"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "use RUNNER=local or RUNNER=docker" in result.stderr
