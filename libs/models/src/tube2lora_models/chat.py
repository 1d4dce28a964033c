"""Conversations to token ids plus an assistant mask: the loss falls on the assistant's tokens only.

Two encoders, both from the tokenizer's own chat format:
- `TemplateChatEncoder` (a transformers tokenizer with a chat template): each assistant turn's span is
  the difference between the chat through that turn and the prefix before it (with the generation
  prompt); a template whose prefixes are not token prefixes is refused rather than mis-masked.
- `MistralChatEncoder` (mistral-common): the whole chat in fine-tuning mode; the assistant's spans are
  the tokens after each `[/INST]` up to and including the end-of-sequence token. (Mistral v3 moves the
  system prompt into the last user turn, so the prefix method would not hold there.)

Both also encode plain text as a training row (`encode_text`): the tokenizer's own start-of-text token
where it adds one, the text, the end-of-sequence token, and every token supervised (monologue data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from tube2lora_shared.errors import UsageError

from .tokenizers import mistral_file


class ChatEncoder(Protocol):
    eos_id: int
    pad_token: str

    def encode(self, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]: ...

    def prompt(self, messages: list[dict[str, str]]) -> list[int]: ...  # up to a user turn, ready to answer

    def text(self, text: str) -> list[int]: ...  # plain text, for perplexity

    def encode_text(self, text: str) -> tuple[list[int], list[int]]: ...  # a plain-text row: BOS?, text, EOS; all 1s

    def decode(self, ids: list[int], keep_special: bool = False) -> str: ...

    def processing_class(self): ...

    def save(self, directory: Path) -> None: ...


class TemplateChatEncoder:
    def __init__(self, tokenizer):
        if not getattr(tokenizer, "chat_template", None):
            raise UsageError("train.tokenizer: the base model's tokenizer has no chat template; use a chat model "
                             "or name a tokenizer (mistral:v3)")
        self.tokenizer = tokenizer
        self.eos_id = tokenizer.eos_token_id
        self.pad_token = tokenizer.pad_token or tokenizer.eos_token

    def _ids(self, messages, generation_prompt: bool) -> list[int]:
        out = self.tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt)
        return list(out["input_ids"] if hasattr(out, "keys") else out)  # a BatchEncoding in newer transformers

    def encode(self, messages):
        ids = self._ids(messages, False)
        mask = [0] * len(ids)
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            before = self._ids(messages[:i], True)
            through = self._ids(messages[: i + 1], False)
            if ids[: len(before)] != before or ids[: len(through)] != through:
                raise UsageError("train.tokenizer: this chat template does not encode conversations prefix by "
                                 "prefix, so assistant turns cannot be located; name a tokenizer explicitly")
            mask[len(before): len(through)] = [1] * (len(through) - len(before))
        return ids, mask

    def prompt(self, messages):
        return self._ids(messages, True)

    def text(self, text):
        return list(self.tokenizer(text, add_special_tokens=True)["input_ids"])

    def encode_text(self, text):
        ids = self.text(text)
        if self.eos_id is not None and (not ids or ids[-1] != self.eos_id):
            ids.append(self.eos_id)
        return ids, [1] * len(ids)

    def decode(self, ids, keep_special=False):
        return self.tokenizer.decode(ids, skip_special_tokens=not keep_special)

    def processing_class(self):
        return self.tokenizer

    def save(self, directory: Path) -> None:
        self.tokenizer.save_pretrained(directory)


class MistralChatEncoder:
    pad_token = "</s>"

    def __init__(self, name: str, where: str = "train.tokenizer"):
        from mistral_common.protocol.instruct.validator import ValidationMode
        from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

        path = mistral_file(name, where)
        self.path = path
        self.mistral = MistralTokenizer.from_file(str(path), mode=ValidationMode.finetuning)
        self.serving = MistralTokenizer.from_file(str(path))  # prompts end with a user turn
        self.raw = self.mistral.instruct_tokenizer.tokenizer
        self.eos_id = self.raw.eos_id
        special = getattr(self.raw, "get_special_token", None) or self.raw.get_control_token
        self.inst_end = special("[/INST]")

    def _request(self, messages):
        from mistral_common.protocol.instruct.messages import AssistantMessage, SystemMessage, UserMessage
        from mistral_common.protocol.instruct.request import ChatCompletionRequest

        kinds = {"system": SystemMessage, "user": UserMessage, "assistant": AssistantMessage}
        return ChatCompletionRequest(messages=[kinds[m["role"]](content=m["content"]) for m in messages])

    def prompt(self, messages):
        return list(self.serving.encode_chat_completion(self._request(messages)).tokens)

    def text(self, text):
        return list(self.raw.encode(text, bos=True, eos=False))

    def encode_text(self, text):
        ids = list(self.raw.encode(text, bos=True, eos=True))
        return ids, [1] * len(ids)

    def encode(self, messages):
        ids = list(self.mistral.encode_chat_completion(self._request(messages)).tokens)
        mask, inside = [], False
        for token in ids:
            mask.append(1 if inside else 0)
            if token == self.inst_end:
                inside = True
            elif token == self.eos_id:
                inside = False
        return ids, mask

    def decode(self, ids, keep_special=False):
        from mistral_common.tokens.tokenizers.base import SpecialTokenPolicy

        return self.raw.decode(ids, special_token_policy=SpecialTokenPolicy.KEEP if keep_special
                               else SpecialTokenPolicy.IGNORE)

    def processing_class(self):
        from transformers.tokenization_mistral_common import MistralCommonBackend

        return MistralCommonBackend(tokenizer_path=str(self.path), mode="finetuning")

    def save(self, directory: Path) -> None:
        import shutil

        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.path, directory / self.path.name)


def chat_format(tokenizer: str) -> str:
    """Which encoder a tokenizer spec selects: "mistral" (mistral:v3...) or "template" (auto, a tokenizer)."""
    return "mistral" if tokenizer.startswith("mistral:") else "template"


def load_encoder(tokenizer: str, base_model: str) -> ChatEncoder:
    """The encoder for a tokenizer spec (`auto`, a tokenizer name or directory, `mistral:v3`) and the
    base model it serves (a hub id or a local directory: resolve builtin names first)."""
    if chat_format(tokenizer) == "mistral":
        return MistralChatEncoder(tokenizer.split(":", 1)[1])
    from transformers import AutoTokenizer

    source = base_model if tokenizer == "auto" else tokenizer
    try:
        return TemplateChatEncoder(AutoTokenizer.from_pretrained(source))
    except OSError as exc:
        raise UsageError(f"train.tokenizer: no tokenizer could be loaded from {source!r} "
                         f"({str(exc).splitlines()[0]}); check train.base_model / train.tokenizer") from None
