"""tube2lora media library (imported by download and transcribe; never run): yt-dlp behind a small
protocol, the media cache every run shares, audio fetched on demand, and ffprobe's duration."""

__version__ = "0.1.0"
