"""`tube2lora-download --config FILE [--force] [--retry-failed]`: list and fetch the creator's videos."""

from tube2lora_shared.pipeline import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import DownloadConfig

SPEC = StageSpec(
    name="download",
    package="tube2lora-download",
    section=DownloadConfig,
    run="tube2lora_download.run:run",
    summary="tube2lora_download.summary:lines",
    freshness="tube2lora_download.listing:freshness",
    description="fetch the channel's media and metadata with yt-dlp",
    fetches_media=True,
    upstream=(),
    reads=("input",),
    libraries=("yt-dlp", "yt-dlp-ejs", "deno"),
    estimate="tube2lora_download.estimate:forecast",
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
