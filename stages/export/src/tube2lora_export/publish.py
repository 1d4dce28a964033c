"""`tube2lora publish --config FILE`: the exported adapter to the Hugging Face Hub with huggingface_hub, in one commit
to `export.hub_repo` (created private when missing): the PEFT adapter with its model card (README.md), adapter.gguf,
and generate's dataset card as `dataset/README.md`. The token is read from the variable `export.hub_token_env`
names (HF_TOKEN); HF_ENDPOINT, as huggingface_hub reads it, says where the Hub is. Writes nothing locally.
"""

from __future__ import annotations

import os
from pathlib import Path

from tube2lora_shared.config import load_config
from tube2lora_shared.documents import ExportedAdapter
from tube2lora_shared.errors import StageError, UsageError
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.rundir import RunDir

from .config import ExportConfig


def publish(run: RunDir, *, config_path: Path) -> int:
    cfg = load_config(config_path).section("export", ExportConfig)
    if not cfg.hub_repo:
        raise UsageError("export.hub_repo: not set; name the Hub model repository to publish to (user/name)")
    token = os.environ.get(cfg.hub_token_env)
    if not token:
        raise UsageError(f"export.hub_token_env: ${cfg.hub_token_env} is empty; put a Hugging Face write token in it")
    if read_manifest(run.stage_dir("export")) is None:
        raise StageError(f"run {run.id} has no finished export stage to publish; run `make export "
                         f"CONFIG={config_path}` first")
    exported = ExportedAdapter.read(run.stage_dir("export"))
    files = uploads(run, exported)
    url = upload(cfg.hub_repo, token, files, f"{exported.name}: LoRA adapter of {exported.base_model} (tube2lora "
                                              f"run {run.id})")
    print(f"published {len(files)} files to {cfg.hub_repo}: {url}")
    return 0


def uploads(run: RunDir, exported: ExportedAdapter) -> dict[str, Path]:
    """Path in the repository -> local file."""
    adapter = run.root / exported.adapter_path
    files = {p.relative_to(adapter).as_posix(): p for p in sorted(adapter.rglob("*")) if p.is_file()}
    files["adapter.gguf"] = run.root / exported.gguf_path
    dataset_card = run.stage_dir("generate") / "README.md"
    if dataset_card.is_file():
        files["dataset/README.md"] = dataset_card
    return files


def upload(repo: str, token: str, files: dict[str, Path], message: str) -> str:
    from httpx2 import TransportError  # huggingface_hub's HTTP client
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(token=token)
    try:
        api.create_repo(repo, private=True, exist_ok=True)
        commit = api.create_commit(repo, [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path))
                                          for name, path in files.items()], commit_message=message)
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "no answer"
        raise StageError(f"the Hub refused the upload to {repo} ({status}): {str(exc).splitlines()[0]}") from None
    except (TransportError, OSError) as exc:  # no connection
        raise StageError(f"could not reach the Hub to publish to {repo}: {exc}") from None
    return commit.commit_url
