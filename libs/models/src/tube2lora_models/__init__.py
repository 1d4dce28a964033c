"""tube2lora model library (imported by train, evaluate, analyze; never run): chat encoders with an
assistant mask, the Mistral tokenizer table, base-model resolution and adapter merging. torch and
transformers are imported inside functions only."""

__version__ = "0.1.0"
