"""`tube2lora-train --config FILE [--force]`: a LoRA adapter that talks like the creator."""

from tube2lora_shared.lifecycle import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import TrainConfig
from .run import run

SPEC = StageSpec(
    name="train",
    package="tube2lora-train",
    section=TrainConfig,
    run=run,
    libraries=("torch", "transformers", "peft", "trl", "mistral-common"),
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
