"""`tube2lora-train --config FILE [--force]`: a LoRA adapter that talks like the creator."""

from tube2lora_shared.pipeline import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import TrainConfig

SPEC = StageSpec(
    name="train",
    package="tube2lora-train",
    section=TrainConfig,
    run="tube2lora_train.run:run",
    summary="tube2lora_train.summary:lines",
    description="a LoRA adapter: TRL SFT on the creator's chats and monologue text, best checkpoint kept",
    upstream=("generate",),
    gpu=True,
    hub_models=True,
    libraries=("torch", "transformers", "peft", "trl", "mistral-common"),
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
