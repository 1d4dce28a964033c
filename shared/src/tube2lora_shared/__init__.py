"""tube2lora's run library: configs, run identity, run directories, manifests, cache, stage lifecycle."""

__version__ = "0.1.0"
