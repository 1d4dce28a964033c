"""tube2lora train stage: LoRA SFT on the creator's own words, chats (loss on the answers) and monologue
text (loss on every token), with the best checkpoint on held-out videos kept."""

__version__ = "0.1.0"
