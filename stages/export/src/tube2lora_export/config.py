"""The `export` config section."""

from __future__ import annotations

from pydantic import Field

from tube2lora_shared.config import Section


class ExportConfig(Section):
    name: str | None = None  # the adapter's name in Ollama and vLLM; null: the creator's name, slugged
    # A GGUF file of the base model for llama.cpp and Ollama (convert_hf_to_gguf.py's output, f16 is best for the
    # check); null: the packaged GGUF for builtin:smollm2-135m-instruct, none otherwise (Modelfile names the base).
    # The GGUF adapter takes its architecture (a Mistral 3 base: mistral3, or llama from earlier converters)
    base_gguf: str | None = None
    # The equivalence check (llama.cpp + GGUF adapter vs PEFT on held-out text); null: when a base GGUF is known
    check: bool | None = None
    check_windows: int = Field(8, ge=1)  # held-out text windows scored on each side
    check_window_tokens: int = Field(128, ge=16)
    ppl_ratio_tolerance: float = Field(0.05, gt=0, lt=1)  # |ratio_llama.cpp / ratio_peft - 1| at most this
    # An interpreter that can `import llama_cpp` (llama-cpp-python); null: this one if it can, else the one
    # `make llm-server` builds (.tools/llm-server/bin/python)
    llama_cpp_python: str | None = None
    merged: bool = False  # also write base + adapter merged into full weights, in the base's dtype
    merge_tolerance: float = Field(1e-3, gt=0)  # merged vs base + adapter, max |logit difference|
    license_note: str = ("Trained on transcripts of a creator's videos. The creator holds the rights to their words "
                         "and voice: get their permission before publishing or serving this adapter to others.")
    # `tube2lora publish`: the Hugging Face Hub model repository (user/name) the adapter, its card, adapter.gguf and
    # generate's dataset card go to, created private when missing; the token is read from the variable named here
    hub_repo: str | None = None
    hub_token_env: str = "HF_TOKEN"
