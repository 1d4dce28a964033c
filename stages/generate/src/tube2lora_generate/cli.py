"""`tube2lora-generate --config FILE [--force] [--estimate]`: the training datasets."""

from tube2lora_shared.lifecycle import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import GenerateConfig
from .run import run

SPEC = StageSpec(
    name="generate",
    package="tube2lora-generate",
    section=GenerateConfig,
    run=run,
    reads=("llm",),
    also_reads=("normalize", "download"),
    libraries=("openai",),
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
