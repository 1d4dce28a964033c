"""The models `tube2lora chat` talks to, each answering with the adapter on or off and streaming what it writes:
llama.cpp with the GGUF adapter (chat_worker.py in llama-cpp-python's interpreter, as llamacpp.py runs the check),
or transformers + PEFT (one PeftModel; the base is the adapter disabled)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from tube2lora_models.adapted import Decoding, generate, load_adapted
from tube2lora_shared.errors import StageError

from .llamacpp import interpreter

WORKER = Path(__file__).with_name("chat_worker.py")


class ChatModel(Protocol):
    def describe(self) -> str: ...

    def reply(self, messages: list[dict[str, str]], adapter: bool, decoding: Decoding,
              write: Callable[[str], None]) -> str: ...  # streams pieces to `write`, returns the whole answer

    def close(self) -> None: ...


def llama_cpp_python(required: bool) -> str | None:
    """llama-cpp-python's interpreter (as the export check finds it), or None when it is not built and not required."""
    try:
        return interpreter(None)
    except StageError:
        if required:
            raise
        return None


class LlamaCppChat:
    """llama.cpp over the base GGUF with the GGUF LoRA adapter, in a worker process that keeps the model loaded."""

    def __init__(self, python: str, base_gguf: Path, adapter_gguf: Path, timeout_s: float = 300):
        self.base_gguf, self.adapter_gguf = base_gguf, adapter_gguf
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen([python, str(WORKER), str(base_gguf), str(adapter_gguf)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                        bufsize=1)
        self._next()  # {"ready": true} once the model and the adapter are loaded

    def describe(self) -> str:
        return f"llama.cpp: {self.base_gguf.name} + {self.adapter_gguf.name}"

    def reply(self, messages, adapter, decoding, write):
        request = {"messages": messages, "adapter": adapter, "max_tokens": decoding.max_tokens,
                   "temperature": decoding.temperature, "top_p": decoding.top_p,
                   "repeat_penalty": decoding.repetition_penalty, "seed": decoding.seed}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            self._died()
        pieces = []
        while "done" not in (message := self._next()):
            pieces.append(message["piece"])
            write(message["piece"])
        return "".join(pieces)

    def _next(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            self._died()
        message = json.loads(line)
        if "error" in message:
            raise StageError(f"llama.cpp could not answer: {message['error']}")
        return message

    def _died(self):
        code = self.process.wait(timeout=30)
        self.log.seek(0)
        last = ([line for line in self.log.read().splitlines() if line.strip()] or ["(no output)"])[-1]
        raise StageError(f"the llama.cpp chat process ({self.base_gguf.name} + {self.adapter_gguf.name}) died with "
                         f"exit {code}: {last.strip()[:300]}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class TransformersChat:
    """transformers + PEFT over the Hugging Face base train used; tokens streamed as generate() makes them."""

    def __init__(self, base_model: str, adapter: Path, tokenizer: str, load_in_4bit: bool = False):
        from tube2lora_models.chat import load_encoder

        self.base_model, self.adapter = base_model, adapter
        self.encoder = load_encoder(tokenizer, base_model)
        self.model = load_adapted(base_model, str(adapter), load_in_4bit)

    def describe(self) -> str:
        return f"transformers + PEFT: {self.base_model} + {self.adapter.name}"

    def reply(self, messages, adapter, decoding, write):
        streamer = _Streamer(self.encoder, write)
        generate(self.model, self.encoder.prompt(messages), decoding, adapter, self.encoder.eos_id, streamer)
        return streamer.text

    def close(self) -> None:
        pass


class _Streamer:
    """generate()'s streamer (put / end): decodes the new tokens through the chat encoder (a Hugging Face tokenizer
    or mistral-common's, which TextIteratorStreamer cannot use) and writes what is new, whole characters only."""

    def __init__(self, encoder, write: Callable[[str], None]):
        self.encoder, self.write = encoder, write
        self.ids: list[int] = []
        self.text = ""
        self.prompt_seen = False

    def put(self, value) -> None:
        if not self.prompt_seen:  # generate() hands over the prompt first
            self.prompt_seen = True
            return
        self.ids += [i for i in value.reshape(-1).tolist() if i != self.encoder.eos_id]
        self._flush(final=False)

    def end(self) -> None:
        self._flush(final=True)

    def _flush(self, final: bool) -> None:
        text = self.encoder.decode(self.ids)
        if text.endswith("\ufffd") and not final:  # a character split across tokens: wait for the rest
            return
        if text.startswith(self.text) and len(text) > len(self.text):
            self.write(text[len(self.text):])
            self.text = text
