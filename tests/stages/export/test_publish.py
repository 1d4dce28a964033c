"""`tube2lora publish` with the real huggingface_hub against a fake Hub on a loopback port (tests/fakes/hub.py): one
commit to a new private repository with the adapter, its card, adapter.gguf and the dataset card, byte for byte; the
Hub settings do not change the run; a refused token, a missing repo name or token are one line each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from fakes.hub import FakeHub
from stages.export.test_chat import exported  # noqa: F401  (the fixture: a run with train and export finished)

from tube2lora_shared.config import load_config
from tube2lora_shared.rundir import RunDir

TUBE2LORA = str(Path(sys.executable).with_name("tube2lora"))
TOKEN = "hf_fake_write_token"


def with_hub(path: Path, **export) -> Path:
    """The same recipe with Hub settings added (they are operational: the run stays the same)."""
    recipe = yaml.safe_load(path.read_text())
    recipe["export"] = {**recipe.get("export", {}), **export}
    target = path.parent / f"hub-{len(export)}" / path.name  # the same name: the run id's prefix
    target.parent.mkdir(exist_ok=True)
    target.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return target


def publish(path: Path, hub: FakeHub, token: str | None = TOKEN, variable: str = "HF_TOKEN"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env["HF_ENDPOINT"] = hub.endpoint
    if token:
        env[variable] = token
    return subprocess.run([TUBE2LORA, "publish", "--config", str(path)], capture_output=True, text=True, env=env,
                          timeout=120)


def test_publish_uploads_the_adapter_its_card_the_gguf_and_the_dataset_card(exported):  # noqa: F811
    path, run, document = exported
    path = with_hub(path, hub_repo="toby/toby-lora", hub_token_env="T2L_HUB_TOKEN")
    assert RunDir.for_config(load_config(path)).root == run.root
    (run.stage_dir("generate") / "README.md").write_text("# Toby Fenwick's own words\n")
    with FakeHub(TOKEN) as hub:
        done = publish(path, hub, variable="T2L_HUB_TOKEN")
    assert done.returncode == 0, done.stderr
    assert hub.unexpected == []
    files = hub.repos["toby/toby-lora"]
    adapter = run.root / document.adapter_path
    local = {p.relative_to(adapter).as_posix(): p.read_bytes() for p in adapter.rglob("*") if p.is_file()}
    assert {"README.md", "adapter_config.json", "adapter_model.safetensors"} <= set(local)
    assert files == {**local, "adapter.gguf": (run.root / document.gguf_path).read_bytes(),
                     "dataset/README.md": b"# Toby Fenwick's own words\n"}
    assert hub.private["toby/toby-lora"] is True and len(hub.commits) == 1
    assert hub.validated == [local["README.md"].decode()]  # the model card's metadata, checked by the Hub
    # this export had no GGUF of the base: the published card says the GGUF adapter was not checked, and how to
    assert ("adapter.gguf was not checked against this PEFT adapter (no GGUF of the base model (export.base_gguf)): "
            "it may not act as the PEFT adapter does in llama.cpp. To check it, set export.base_gguf to a GGUF of "
            "the base model") in files["README.md"].decode()
    assert done.stdout == (f"published {len(files)} files to toby/toby-lora: "
                           f"{hub.endpoint}/toby/toby-lora/commit/{1:040x}\n")


def test_a_refused_token_is_one_line(exported):  # noqa: F811
    path = with_hub(exported[0], hub_repo="toby/toby-lora")
    with FakeHub(TOKEN) as hub:
        done = publish(path, hub, token="hf_wrong")
    assert done.returncode == 1 and hub.repos == {}
    assert done.stderr.startswith("error: the Hub refused the upload to toby/toby-lora (401): ")
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


def test_missing_repo_or_token_name_the_key(exported):  # noqa: F811
    with FakeHub(TOKEN) as hub:
        no_repo = publish(exported[0], hub)
        no_token = publish(with_hub(exported[0], hub_repo="toby/toby-lora"), hub, token=None)
    assert (no_repo.returncode, no_repo.stderr) == (2, "error: export.hub_repo: not set; name the Hub model repository "
                                                       "to publish to (user/name)\n")
    assert (no_token.returncode, no_token.stderr) == (2, "error: export.hub_token_env: $HF_TOKEN is empty; put a "
                                                         "Hugging Face write token in it\n")
    assert hub.repos == {}
