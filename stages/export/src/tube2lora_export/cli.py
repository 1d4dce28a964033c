"""`tube2lora-export --config FILE [--force]`: the adapter as GGUF for llama.cpp / Ollama, serving recipes for
Ollama, llama.cpp and vLLM, a model card, and a check that llama.cpp + the GGUF adapter moves the model as PEFT does."""

from tube2lora_shared.pipeline import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import ExportConfig

SPEC = StageSpec(
    name="export",
    package="tube2lora-export",
    section=ExportConfig,
    run="tube2lora_export.run:run",
    summary="tube2lora_export.summary:lines",
    chat="tube2lora_export.chat:chat",
    publish="tube2lora_export.publish:publish",
    description="the adapter for llama.cpp, Ollama and vLLM: GGUF, Modelfile, commands, card, checked against PEFT",
    upstream=("train", "generate"),
    hub_models=True,
    libraries=("torch", "transformers", "peft", "gguf"),
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
