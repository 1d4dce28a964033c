"""`tube2lora-filter --config FILE [--force]`: keep the videos worth training on, say why for the rest."""

from tube2lora_shared.lifecycle import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import FilterConfig
from .run import run

SPEC = StageSpec(
    name="filter",
    package="tube2lora-filter",
    section=FilterConfig,
    run=run,
    reads=("input",),
    also_reads=("normalize",),
    libraries=("datasketch",),
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
