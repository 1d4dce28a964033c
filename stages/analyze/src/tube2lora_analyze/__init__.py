"""tube2lora analyze stage: one profile per video (tokens, readability, lexical, confidence, quality, MinHash)."""

__version__ = "0.1.0"
