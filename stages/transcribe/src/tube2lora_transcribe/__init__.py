"""tube2lora transcribe stage: download's videos in, timed transcripts out (whisper or captions)."""

__version__ = "0.1.0"
