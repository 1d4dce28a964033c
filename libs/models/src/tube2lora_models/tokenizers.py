"""The Mistral tokenizers that mistral-common ships, by short name (one table for every stage)."""

from __future__ import annotations

import os
from pathlib import Path

from tube2lora_shared.errors import UsageError

MISTRAL_FILES = {"v1": "tokenizer.model.v1", "v2": "mistral_instruct_tokenizer_240216.model.v2",
                 "v3": "mistral_instruct_tokenizer_240323.model.v3", "v7": "mistral_instruct_tokenizer_241114.model.v7",
                 "tekken": "tekken_240911.json"}


def mistral_data_dir() -> Path:
    import mistral_common

    return Path(os.path.dirname(mistral_common.__file__)) / "data"


def mistral_file(name: str, where: str) -> Path:
    """The tokenizer file a short name (v3), a file name in mistral-common's data or a path names.
    `where` is the config key that named it, for the error."""
    data = mistral_data_dir()
    for path in (data / MISTRAL_FILES.get(name, name), Path(name).expanduser()):
        if path.is_file():
            return path
    raise UsageError(f"{where}: {name!r} is neither one of {sorted(MISTRAL_FILES)}, a file in {data}, "
                     "nor a tokenizer file path")
