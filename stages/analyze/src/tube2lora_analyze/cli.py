"""`tube2lora-analyze --config FILE [--force]`: per-video profiles for the filter."""

from tube2lora_shared.pipeline import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import AnalyzeConfig

SPEC = StageSpec(
    name="analyze",
    package="tube2lora-analyze",
    section=AnalyzeConfig,
    run="tube2lora_analyze.run:run",
    description="per-video profiles: tokens, readability, lexical, confidence, quality",
    upstream=("normalize", "transcribe", "download"),
    libraries=("mistral-common", "tiktoken", "textstat", "py3langid", "datasketch"),
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
