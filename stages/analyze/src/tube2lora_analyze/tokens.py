"""Token counts with the target model's own tokenizer (mistral-common, offline) and tiktoken cl100k."""

from __future__ import annotations

from functools import cached_property

from tube2lora_models.tokenizers import mistral_file


class MistralTokens:
    def __init__(self, name: str):
        self.path = mistral_file(name, "analyze.tokenizer")

    @cached_property
    def _tokenizer(self):
        from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

        return MistralTokenizer.from_file(str(self.path)).instruct_tokenizer.tokenizer

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, bos=False, eos=False))
