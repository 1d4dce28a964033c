"""`tube2lora-filter --config FILE [--force]`: keep the videos worth training on, say why for the rest."""

from tube2lora_shared.pipeline import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import FilterConfig

SPEC = StageSpec(
    name="filter",
    package="tube2lora-filter",
    section=FilterConfig,
    run="tube2lora_filter.run:run",
    summary="tube2lora_filter.summary:lines",
    description="quality, language, near-duplicate gates and boilerplate removal",
    upstream=("analyze", "normalize"),
    reads=("input",),
    libraries=("datasketch",),
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
