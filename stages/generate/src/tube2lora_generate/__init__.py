"""tube2lora generate stage: synthetic SFT data in the creator's voice, gated, with provenance."""

__version__ = "0.1.0"
