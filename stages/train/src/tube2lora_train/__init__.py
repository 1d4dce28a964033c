"""tube2lora train stage: LoRA SFT on the creator's conversations, loss on the assistant's tokens only."""

__version__ = "0.1.0"
