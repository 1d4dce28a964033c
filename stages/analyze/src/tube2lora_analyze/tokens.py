"""Token counts with the target model's own tokenizer (mistral-common, offline) and tiktoken cl100k."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from tube2lora_shared.errors import UsageError

ALIASES = {"v1": "tokenizer.model.v1", "v2": "mistral_instruct_tokenizer_240216.model.v2",
           "v3": "mistral_instruct_tokenizer_240323.model.v3", "v7": "mistral_instruct_tokenizer_241114.model.v7",
           "tekken": "tekken_240911.json"}


def tokenizer_file(name: str) -> Path:
    import mistral_common

    data = Path(os.path.dirname(mistral_common.__file__)) / "data"
    candidates = [data / ALIASES.get(name, name), Path(name).expanduser()]
    for path in candidates:
        if path.is_file():
            return path
    raise UsageError(f"analyze.tokenizer: {name!r} is neither one of {sorted(ALIASES)}, a file in "
                     f"{data}, nor a tokenizer file path")


class MistralTokens:
    def __init__(self, name: str):
        self.path = tokenizer_file(name)

    @cached_property
    def _tokenizer(self):
        from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

        return MistralTokenizer.from_file(str(self.path)).instruct_tokenizer.tokenizer

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, bos=False, eos=False))
