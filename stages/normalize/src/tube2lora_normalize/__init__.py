"""tube2lora normalize stage: transcripts in, LLM-cleaned text out, chunk by chunk."""

__version__ = "0.1.0"
