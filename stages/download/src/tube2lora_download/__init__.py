"""tube2lora download stage: channel, playlist, video or URL-list sources in, media and videos.jsonl out."""

__version__ = "0.1.0"
