"""Run identity: a readable prefix plus a hash of the content that defines the run.

The hash covers the parsed config (so comments, whitespace and key order don't count), minus the
`paths` section (where a run lives is not what it is) and the operational LLM settings (how fast and how
patiently the endpoint is asked: `OPERATIONAL`), with every referenced file replaced by its content hash. The same recipe therefore maps to the same `runs/<run_id>/` from any checkout path, and
Make can compute target paths; any content change, a prompt file's included, gives a new run.
"""

from __future__ import annotations

import re
from typing import Any

from .config import Config
from .hashing import sha256_json

# Settings that change how work is done, never what it produces: they leave the run id and every stage's
# input hash (like `paths`, and the endpoint URL that `llm.base_url_env` names: only the name counts).
OPERATIONAL = {"llm": ("concurrency", "timeout_s", "max_attempts", "backoff_s", "max_backoff_s", "budget"),
               # which interpreter runs llama.cpp for the check; where `tube2lora publish` uploads the result
               "export": ("llama_cpp_python", "hub_repo", "hub_token_env"),
               # how often a channel is listed again: a new listing changes the output only when it differs
               "download": ("relist_after_hours",)}


def identity_document(config: Config) -> dict[str, Any]:
    def strip(node: Any, dotted: str) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                where = f"{dotted}.{key}" if dotted else str(key)
                ref = config.files.get(where)
                out[key] = {"sha256": ref.sha256} if ref else strip(value, where)
            return out
        if isinstance(node, list):
            return [strip(item, f"{dotted}[{i}]") for i, item in enumerate(node)]
        return node

    def operational(key: str, value: Any) -> Any:
        if key in OPERATIONAL and isinstance(value, dict):
            return {k: v for k, v in value.items() if k not in OPERATIONAL[key]}
        return value

    document = {key: strip(operational(key, value), key) for key, value in config.data.items() if key != "paths"}
    # a section that held operational settings only (`export: {hub_repo: ...}`) is the same run as none
    return {key: value for key, value in document.items() if not (key in OPERATIONAL and value == {})}


def run_id(config: Config) -> str:
    prefix = config.pipeline.run_name or _prefix_from_path(config)
    return f"{prefix}-{sha256_json(identity_document(config))[:12]}"


def _prefix_from_path(config: Config) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", config.path.stem).strip("-.") or "run"
    return stem[:40]


def section_hash(config: Config, names: tuple[str, ...]) -> dict[str, Any]:
    """The identity view of some sections: what a stage's input hash includes of the config."""
    document = identity_document(config)
    return {name: document.get(name) for name in names}
