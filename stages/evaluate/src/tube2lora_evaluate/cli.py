"""`tube2lora-evaluate --config FILE [--force]`: base vs adapter on the held-out videos, and a report."""

from tube2lora_shared.pipeline import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import EvaluateConfig

SPEC = StageSpec(
    name="evaluate",
    package="tube2lora-evaluate",
    section=EvaluateConfig,
    run="tube2lora_evaluate.run:run",
    summary="tube2lora_evaluate.summary:lines",
    description="base vs adapter on held-out videos: perplexity, the creator's voice, samples, report",
    upstream=("train", "generate"),
    llm=True,
    gpu=True,
    hub_models=True,
    reads=("llm",),
    libraries=("torch", "transformers", "peft", "tensorboard"),
    estimate="tube2lora_evaluate.estimate:forecast",
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
