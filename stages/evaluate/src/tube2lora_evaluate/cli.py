"""`tube2lora-evaluate --config FILE [--force]`: base vs adapter on the held-out videos, and a report."""

from tube2lora_shared.lifecycle import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import EvaluateConfig
from .run import run

SPEC = StageSpec(
    name="evaluate",
    package="tube2lora-evaluate",
    section=EvaluateConfig,
    run=run,
    reads=("llm",),
    also_reads=("generate", "normalize"),
    libraries=("torch", "transformers", "peft", "tensorboard"),
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
