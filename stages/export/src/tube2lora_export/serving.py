"""How to serve the exported adapter: an Ollama Modelfile, a llama.cpp `llama-server` command line and a vLLM one.

Pure text from what the stage decided (paths, names, the rank, the persona, the chat template's stop tokens)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

# Tokens that end a turn in the common chat templates: a Modelfile's `PARAMETER stop` for each one the template uses
TURN_ENDS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "</s>", "[INST]", "<|endoftext|>")


BASE_GGUF = "BASE.gguf"  # stands in the command lines for a GGUF of the base where the run has none


def base_gguf_notes(base_model: str) -> list[str]:
    """What a user without a GGUF of the base (a Hugging Face base) must do first: for Ollama, and for llama.cpp."""
    return [f"the Modelfile's FROM names the Hugging Face model {base_model}, which Ollama cannot load: point FROM "
            f"at a GGUF of that model ({BASE_GGUF}) before `ollama create`",
            f"{BASE_GGUF}: a GGUF of {base_model}, made with llama.cpp's convert_hf_to_gguf.py (`python "
            f"convert_hf_to_gguf.py <the model's directory> --outtype f16 --outfile {BASE_GGUF}`); set "
            "export.base_gguf to it and re-run export to have the GGUF adapter checked against it and these lines "
            "written with its path"]


def adapter_name(creator: str | None) -> str:
    """The name Ollama and vLLM serve the adapter as: `<creator>-lora`, lower-case, dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", (creator or "").lower()).strip("-")
    return f"{slug}-lora" if slug else "tube2lora-adapter"


def adapter_stop_tokens(adapter: Path, chat_format: str) -> list[str]:
    """stop_tokens() of the chat template and end-of-sequence token saved with the adapter."""
    template = adapter / "chat_template.jinja"
    config = adapter / "tokenizer_config.json"
    eos = json.loads(config.read_text(encoding="utf-8")).get("eos_token") if config.is_file() else None
    eos = eos.get("content") if isinstance(eos, dict) else eos
    return stop_tokens(template.read_text(encoding="utf-8") if template.is_file() else None, eos, chat_format)


def stop_tokens(chat_template: str | None, eos_token: str | None, chat_format: str = "template") -> list[str]:
    """The strings that end the adapter's turn: the end-of-sequence token and the template's turn markers."""
    if chat_format == "mistral":
        return ["</s>", "[INST]"]
    found = [eos_token] if eos_token else []
    found += [t for t in TURN_ENDS if chat_template and t in chat_template and t not in found]
    if "<|im_end|>" in found and "<|im_start|>" not in found:
        found.append("<|im_start|>")  # ChatML: a model that runs on starts a new turn
    return found


def modelfile(base: str, base_is_file: bool, gguf_adapter: str, persona: str | None, stops: list[str]) -> str:
    """An Ollama Modelfile: FROM the base (a GGUF path, or a model name Ollama knows), ADAPTER the GGUF LoRA."""
    lines = ["# Ollama Modelfile written by tube2lora export: `ollama create NAME -f Modelfile`, then `ollama run NAME`"]
    if not base_is_file:
        lines.append(f"# {base} is the Hugging Face base model: replace it with the same model in Ollama "
                     "(`ollama pull ...`, or a GGUF path from llama.cpp's convert_hf_to_gguf.py) - not a different one")
    lines += [f"FROM {base}", f"ADAPTER {gguf_adapter}"]
    if persona:
        lines.append(f'SYSTEM """{persona.replace(chr(34) * 3, chr(34))}"""')  # Ollama's multi-line string
    lines += [f"PARAMETER stop {json.dumps(stop, ensure_ascii=False)}" for stop in stops]
    return "\n".join(lines) + "\n"


def llama_server_command(base_gguf: str, gguf_adapter: str, port: int = 8080) -> str:
    return " ".join(["llama-server", "-m", shlex.quote(base_gguf), "--lora", shlex.quote(gguf_adapter),
                     "--host", "127.0.0.1", "--port", str(port)])


def llama_cpp_python_command(python: str, base_gguf: str, gguf_adapter: str, port: int = 8000) -> str:
    """llama-cpp-python's OpenAI-compatible server with the adapter (what `make llm-server` builds for the demo)."""
    return " ".join([shlex.quote(python), "-m", "llama_cpp.server", "--model", shlex.quote(base_gguf),
                     "--lora_path", shlex.quote(gguf_adapter), "--host", "127.0.0.1", "--port", str(port)])


def vllm_command(base_model: str, name: str, adapter_dir: str, rank: int) -> str:
    """vLLM serving the PEFT adapter directory as model `name`; --max-lora-rank is vLLM's smallest allowed value
    that holds `rank`."""
    allowed = [r for r in (1, 8, 16, 32, 64, 128, 256, 320, 512) if r >= rank]
    max_rank = allowed[0] if allowed else rank
    return " ".join(["vllm", "serve", shlex.quote(base_model), "--enable-lora",
                     "--lora-modules", shlex.quote(f"{name}={adapter_dir}"), "--max-lora-rank", str(max_rank)])
