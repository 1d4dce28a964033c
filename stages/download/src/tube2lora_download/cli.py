"""`tube2lora-download --config FILE [--force] [--retry-failed]`: list and fetch the creator's videos."""

from tube2lora_shared.lifecycle import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import DownloadConfig
from .run import run

SPEC = StageSpec(
    name="download",
    package="tube2lora-download",
    section=DownloadConfig,
    run=run,
    reads=("input",),
    libraries=("yt-dlp",),
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
