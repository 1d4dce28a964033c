"""`tube2lora-normalize --config FILE [--force] [--estimate]`: LLM cleanup of the transcripts."""

from tube2lora_shared.pipeline import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import NormalizeConfig

SPEC = StageSpec(
    name="normalize",
    package="tube2lora-normalize",
    section=NormalizeConfig,
    run="tube2lora_normalize.run:run",
    description="LLM cleanup of the transcripts, chunked",
    upstream=("transcribe",),
    llm=True,
    reads=("llm",),
    libraries=("openai", "tiktoken", "textstat", "rapidfuzz"),
    estimate="tube2lora_normalize.estimate:forecast",
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
