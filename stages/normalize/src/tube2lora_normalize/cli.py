"""`tube2lora-normalize --config FILE [--force] [--estimate]`: LLM cleanup of the transcripts."""

from tube2lora_shared.lifecycle import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import NormalizeConfig
from .run import run

SPEC = StageSpec(
    name="normalize",
    package="tube2lora-normalize",
    section=NormalizeConfig,
    run=run,
    reads=("llm",),
    libraries=("openai", "tiktoken", "textstat", "rapidfuzz"),
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
