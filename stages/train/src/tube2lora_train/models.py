"""Where the base model comes from: a hub id, a local directory, or a built-in tiny model.

`builtin:tiny-random-mistral` is a 2-layer, 64-wide `MistralForCausalLM` with random weights and the
Mistral v3 vocabulary, built (seeded, so always the same) into the cache on first use. It downloads
nothing and learns nothing useful: it is for checking the whole pipeline offline in seconds.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

BUILTIN = "builtin:tiny-random-mistral"


def resolve_base_model(name: str, cache_root: Path) -> str:
    if name != BUILTIN:
        return name
    target = cache_root / "models" / "tiny-random-mistral-v1"
    if not (target / "config.json").exists():
        import torch
        from transformers import MistralConfig, MistralForCausalLM

        torch.manual_seed(0)
        config = MistralConfig(vocab_size=32768, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                               bos_token_id=1, eos_token_id=2)
        staging = target.with_name(f".{target.name}.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        MistralForCausalLM(config).save_pretrained(staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return str(target)
