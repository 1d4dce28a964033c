"""`tube2lora chat --config FILE`: talk to what the export stage exported (the shared CLI dispatches here through
the export StageSpec's `chat`, so `tube2lora` imports nothing heavy until a chat starts).

    tube2lora chat --config configs/demo.yaml                  streamed answers in the persona; /base, /quit
    tube2lora chat --config configs/demo.yaml --ask-held-out   one held-out question: adapter, base, the creator

Reads `stages/export/export.json` (the GGUF adapter and, when export knew one, the base model's GGUF),
`stages/train/` (`adapter.json`: the tokenizer; `split.json`: the held-out videos) and `stages/generate/`
(`dataset_manifest.json`: the persona system prompt; `own_words/dataset_messages.jsonl`: the held-out questions with
the creator's real answers). Writes nothing. The model: llama.cpp with the GGUF adapter when a GGUF base exists
(chat_models.LlamaCppChat), else transformers + PEFT over the Hugging Face base (chat_models.TransformersChat).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from tube2lora_models.adapted import Decoding
from tube2lora_shared.documents import DatasetManifest, ExportedAdapter, Split, TrainedAdapter
from tube2lora_shared.errors import StageError, UsageError
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.manifest import read_manifest
from tube2lora_shared.records import ChatExample
from tube2lora_shared.rundir import RunDir

from .chat_models import ChatModel

OWN_WORDS = "own_words/dataset_messages.jsonl"
HISTORY_TURNS = 3  # earlier question/answer pairs kept in the prompt (a 135M model's context is short)
HELP = "Type a question; /base: the base model's answer to your last question; /quit (or Ctrl-D): leave."


def chat(run: RunDir, *, config_path: Path, ask_held_out: bool = False, backend: str = "auto",
         temperature: float = 0.7, max_tokens: int = 200, seed: int = 0) -> int:
    exported = _exported(run, config_path)
    trained = TrainedAdapter.read(run.stage_dir("train"))
    datasets = DatasetManifest.find(run.stage_dir("generate")) or DatasetManifest()
    decoding = Decoding(max_tokens, temperature, top_p=0.9, repetition_penalty=1.1, seed=seed)  # evaluate's sampling
    question = held_out_question(run) if ask_held_out else None  # before loading a model: its error is cheaper
    model = open_model(run, exported, trained, backend)
    try:
        if question:
            return ask(model, exported.name, datasets.creator or "the creator", question, decoding, sys.stdout)
        return converse(model, exported.name, datasets.persona, decoding, sys.stdin, sys.stdout)
    finally:
        model.close()


def _exported(run: RunDir, config_path: Path) -> ExportedAdapter:
    if read_manifest(run.stage_dir("export")) is None:
        what = "train" if read_manifest(run.stage_dir("train")) is None else "export"
        raise StageError(f"run {run.id} has no finished {what} stage to talk to; run `make export "
                         f"CONFIG={config_path}` first")
    return ExportedAdapter.read(run.stage_dir("export"))


def open_model(run: RunDir, exported: ExportedAdapter, trained: TrainedAdapter, backend: str) -> ChatModel:
    from . import chat_models

    gguf_base = exported.base_gguf if exported.base_gguf and Path(exported.base_gguf).is_file() else None
    if backend == "llama.cpp" and not gguf_base:
        raise UsageError("--backend llama.cpp needs a GGUF of the base model, and export.json names none that "
                         "exists (set export.base_gguf and run `make export` again), or use --backend transformers")
    if backend == "transformers" or not gguf_base:
        return chat_models.TransformersChat(exported.base_model_location, run.root / exported.adapter_path,
                                            trained.tokenizer, trained.load_in_4bit)
    python = chat_models.llama_cpp_python(required=backend == "llama.cpp")
    if python is None:  # auto, and llama-cpp-python is not built: the PEFT adapter answers the same way
        return chat_models.TransformersChat(exported.base_model_location, run.root / exported.adapter_path,
                                            trained.tokenizer, trained.load_in_4bit)
    return chat_models.LlamaCppChat(python, Path(gguf_base), run.root / exported.gguf_path)


def converse(model: ChatModel, name: str, persona: str | None, decoding: Decoding, stdin: TextIO,
             stdout: TextIO) -> int:
    """The interactive loop: each answer streamed as it is written; /base answers the last question again with the
    adapter off (the same seed, not added to the conversation)."""
    system = [{"role": "system", "content": persona}] if persona else []
    turns: list[dict[str, str]] = []
    stdout.write(f"{model.describe()}\n" + (f"persona: {persona}\n" if persona else "") + f"{HELP}\n")
    while True:
        line = _read(stdin, stdout)
        if line is None or line.strip() in ("/quit", "/exit"):
            stdout.write("bye\n")
            return 0
        line = line.strip()
        if not line:
            continue
        if line == "/base":
            if not turns:
                stdout.write("no question yet: ask one first, then /base answers it with the base model\n")
                continue
            _answer(model, system + _recent(turns[:-1]), False, "base", decoding, stdout)
            continue
        if line.startswith("/"):
            stdout.write(f"unknown command {line}; {HELP}\n")
            continue
        turns.append({"role": "user", "content": line})
        reply = _answer(model, system + _recent(turns), True, name, decoding, stdout)
        turns.append({"role": "assistant", "content": reply})


def ask(model: ChatModel, name: str, creator: str, question: ChatExample, decoding: Decoding, stdout: TextIO) -> int:
    """One held-out question (a video the adapter never trained on): the adapter's and the base's answers, then what
    the creator really said."""
    last_user = max(i for i, m in enumerate(question.messages) if m["role"] == "user")
    prompt = question.messages[: last_user + 1]
    real = next((m["content"] for m in question.messages[last_user + 1:] if m["role"] == "assistant"), "")
    video = question.provenance.video_title or question.provenance.video_id
    stdout.write(f"held-out question (from \"{video}\", a video the adapter never trained on; {model.describe()}):\n"
                 f"  {prompt[-1]['content']}\n")
    _answer(model, prompt, True, f"  {name}", decoding, stdout)
    _answer(model, prompt, False, "  base model", decoding, stdout)
    stdout.write(f"  {creator}, really> {real}\n")
    return 0


def held_out_question(run: RunDir) -> ChatExample:
    """The first own_words example of a held-out video: its question and the creator's real answer."""
    held_out = set(Split.read(run.stage_dir("train")).eval)
    path = run.stage_dir("generate") / OWN_WORDS
    found = [c for c in read_jsonl(path, ChatExample) if c.provenance.video_id in held_out] if path.is_file() else []
    if not found:
        raise StageError(f"run {run.id} has no own_words question of a held-out video ({path}); the held-out "
                         "videos need generate's own_words examples (generate.own_words, train.eval_share > 0)")
    return found[0]


def _answer(model: ChatModel, messages: list[dict[str, str]], adapter: bool, speaker: str, decoding: Decoding,
            stdout: TextIO) -> str:
    stdout.write(f"{speaker}> ")
    stdout.flush()

    def write(piece: str) -> None:
        stdout.write(piece)
        stdout.flush()

    text = model.reply(messages, adapter, decoding, write)
    stdout.write("\n")
    stdout.flush()
    return text.strip()


def _recent(turns: list[dict[str, str]]) -> list[dict[str, str]]:
    return turns[-(2 * HISTORY_TURNS + 1):]


def _read(stdin: TextIO, stdout: TextIO) -> str | None:
    try:
        if stdin is sys.stdin and stdout is sys.stdout:
            return input("you> ")  # readline editing on a terminal
        stdout.write("you> ")
        stdout.flush()
        line = stdin.readline()
        return line if line else None
    except (EOFError, KeyboardInterrupt):
        stdout.write("\n")
        return None
