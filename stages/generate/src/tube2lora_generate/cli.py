"""`tube2lora-generate --config FILE [--force] [--estimate]`: the training datasets."""

from tube2lora_shared.pipeline import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import GenerateConfig

SPEC = StageSpec(
    name="generate",
    package="tube2lora-generate",
    section=GenerateConfig,
    run="tube2lora_generate.run:run",
    summary="tube2lora_generate.summary:lines",
    description="training data: talk-as-creator chats, editorial rewrites, gated",
    upstream=("filter", "normalize", "download"),
    llm=True,
    reads=("llm",),
    libraries=("openai",),
    estimate="tube2lora_generate.estimate:forecast",
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
