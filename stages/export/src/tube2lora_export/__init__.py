"""tube2lora export stage: the trained adapter made usable outside the pipeline (see run.py)."""
