"""A PEFT LoRA adapter as a GGUF LoRA adapter, in the format llama.cpp's convert_lora_to_gguf.py writes and
llama.cpp (`--lora`), llama-cpp-python (`lora_path=`) and Ollama (`ADAPTER`) load:

- metadata: `general.architecture` the base's GGUF architecture (llama, mistral3, qwen2), `general.type = adapter`,
  `adapter.type = lora`, `adapter.lora.alpha` (float32), `general.file_type` 0 (all F32, the converter's default
  --outtype f32);
- tensors: for each adapted base weight, its GGUF name plus `.lora_a` (PEFT's lora_A, rank x in) and `.lora_b`
  (PEFT's lora_B, out x rank), F32; llama.cpp scales by alpha / rank, rank read from the tensors;
- LLaMA-family bases (LlamaForCausalLM, MistralForCausalLM): convert_hf_to_gguf.py permutes the rows of q_proj
  and k_proj for its rotary layout, so lora_b of those is permuted alike (lora_a is not: it acts on the input);
- Mistral 3 (Mistral3ForConditionalGeneration: Ministral 3, Mistral Small 3.1 and later): its text model, as
  llama.cpp's Mistral3Model converts it: llama's layout (q/k rows permuted alike) under GGUF architecture `mistral3`,
  `language_model.` dropped from the names, the hyperparameters read from `text_config`; the vision tower and the
  projector (llama.cpp's separate mmproj file) are never adapted. Converters before Ministral 3 wrote such a base as
  `llama`: when the base GGUF says so, the adapter says so too (llama.cpp loads an adapter only over a base of the
  same architecture).

What llama.cpp's LoRA cannot carry is refused with one sentence: full trained modules (modules_to_save: trained
embeddings or lm_head), LoRA on the embeddings or lm_head, added tokens, LoRA on a vision tower or projector, DoRA,
per-module alpha, biases, architectures outside the table.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tube2lora_shared.errors import StageError, UsageError

PEFT_PREFIX = "base_model.model."


class Layout(NamedTuple):
    """How convert_hf_to_gguf.py converts a Hugging Face architecture."""

    architecture: str  # the GGUF architecture
    permuted: bool  # q/k rows permuted for llama.cpp's rotary layout
    strip: str = ""  # dropped from tensor names (a multimodal model's language model prefix)
    text_types: tuple[str, ...] = ()  # the text model types it converts this way (multimodal models), () any


ARCHITECTURES = {
    "LlamaForCausalLM": Layout("llama", True),
    "MistralForCausalLM": Layout("llama", True),
    "Mistral3ForConditionalGeneration": Layout("mistral3", True, "language_model.", ("mistral", "ministral3")),
    "Qwen2ForCausalLM": Layout("qwen2", False),
}
# GGUF architectures that earlier converters wrote for the same base, with the same tensor names
EARLIER = {"mistral3": ("llama",)}
MULTIMODAL_PARTS = ("vision_tower", "multi_modal_projector")


class UnconvertibleAdapter(StageError):
    """The adapter holds something a GGUF LoRA adapter cannot: the message says what and what to do."""


@dataclass(frozen=True)
class GgufAdapter:
    path: Path
    architecture: str
    alpha: float
    rank: int
    tensors: dict[str, tuple[int, ...]]  # GGUF name -> numpy shape as written


def refusal(adapter_config: dict, tensor_names: list[str], added_tokens: int = 0, vocab_size: int | None = None
            ) -> str | None:
    """Why this PEFT adapter cannot become a GGUF LoRA adapter, or None when it can."""
    if adapter_config.get("peft_type", "LORA") != "LORA":
        return f"the adapter is {adapter_config['peft_type']}, not LoRA: only LoRA adapters can be exported to GGUF"
    if adapter_config.get("use_dora"):
        return "the adapter uses DoRA (train.use_dora), which llama.cpp cannot apply: train with use_dora: false"
    saved = list(adapter_config.get("modules_to_save") or [])
    full = sorted({n[len(PEFT_PREFIX):] if n.startswith(PEFT_PREFIX) else n for n in tensor_names
                   if "lora_" not in n})
    if saved or full:
        what = ", ".join(saved or full[:3])
        return (f"the adapter carries fully trained modules ({what}: trained embeddings or lm_head, modules_to_save), "
                "which a GGUF LoRA adapter cannot hold: train without modules_to_save, or use merged weights "
                "(train.merge: true)")
    if any("lora_embedding_" in n or ".embed_tokens." in n or ".lm_head." in n for n in tensor_names):
        return ("the adapter has LoRA on the embeddings or lm_head, which llama.cpp's tied output cannot take: train "
                "with train.lora_target_modules limited to the attention and MLP projections")
    if adapter_config.get("trainable_token_indices"):
        return ("the adapter trains token embeddings (trainable_token_indices), which a GGUF LoRA adapter cannot "
                "carry: train without them")
    if added_tokens:
        return (f"the adapter's tokenizer adds {added_tokens} token{'s' if added_tokens > 1 else ''} beyond the base "
                f"model's vocabulary of {vocab_size}, which a GGUF LoRA adapter cannot carry: train without added "
                "tokens")
    if any(part in n for n in tensor_names for part in MULTIMODAL_PARTS):
        return ("the adapter adapts the vision tower or the projector, which llama.cpp keeps apart from the language "
                "model (an mmproj file) and a GGUF LoRA adapter cannot reach: adapt the language model only")
    if adapter_config.get("alpha_pattern"):
        return "the adapter has per-module alpha (alpha_pattern); a GGUF LoRA adapter holds one alpha"
    if adapter_config.get("bias", "none") != "none" or adapter_config.get("lora_bias"):
        return "the adapter trains biases, which a GGUF LoRA adapter cannot hold: train with bias none"
    return None


def gguf_alpha(adapter_config: dict, ranks: set[int]) -> float:
    """The alpha llama.cpp needs for PEFT's scale: llama.cpp scales by alpha / rank, rsLoRA by alpha / sqrt(rank)."""
    alpha = float(adapter_config["lora_alpha"])
    if not adapter_config.get("use_rslora"):
        return alpha
    if len(ranks) != 1:
        raise UnconvertibleAdapter("the adapter combines rsLoRA with several ranks, which one GGUF alpha cannot express")
    return alpha * math.sqrt(next(iter(ranks)))


def permute_rows(b, n_head: int):
    """convert_hf_to_gguf.py's q/k permutation (per head: halves interleaved) applied to lora_b's rows."""
    rows = b.shape[0]
    return b.reshape(n_head, 2, rows // n_head // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)


def hyperparameters(base_config: dict) -> dict:
    """The base's config with its text model's settings on top, as convert_hf_to_gguf.py reads a multimodal one
    (Mistral 3 keeps vocab_size, num_hidden_layers and the head counts in `text_config`)."""
    return {**base_config, **(base_config.get("text_config") or {})}


def gguf_architecture(path: Path) -> str:
    """`general.architecture` of a GGUF file (the base model's, for llama.cpp)."""
    import gguf

    try:
        return str(gguf.GGUFReader(path).fields["general.architecture"].contents())
    except (ValueError, KeyError) as exc:
        raise UsageError(f"export.base_gguf: {path} is not a GGUF model file ({exc}); name the base's GGUF") from None


def layout(base_config: dict, base_gguf_architecture: str | None = None) -> Layout:
    """How this base converts; with the base GGUF's architecture, the one the adapter must say to load over it."""
    arch_name = (base_config.get("architectures") or ["?"])[0]
    found = ARCHITECTURES.get(arch_name)
    text_type = (base_config.get("text_config") or {}).get("model_type")
    if found is None or (found.text_types and text_type not in found.text_types):
        what = f"{arch_name} (text model {text_type})" if found else arch_name
        raise UnconvertibleAdapter(f"the base model's architecture {what} is not one this exporter knows "
                                   f"({', '.join(ARCHITECTURES)}); convert with llama.cpp's convert_lora_to_gguf.py")
    if base_gguf_architecture is None or base_gguf_architecture == found.architecture:
        return found
    if base_gguf_architecture in EARLIER.get(found.architecture, ()):
        return found._replace(architecture=base_gguf_architecture)
    raise UsageError(f"export.base_gguf: a {base_gguf_architecture} GGUF, but {arch_name} converts as "
                     f"{found.architecture} and llama.cpp loads an adapter only over its own base: name a GGUF of "
                     "the model train trained on")


def convert(adapter_dir: Path, base_config: dict, target: Path, base_gguf_architecture: str | None = None
            ) -> GgufAdapter:
    """Write `adapter_dir` (PEFT: adapter_config.json + adapter_model.safetensors) as a GGUF LoRA adapter for the
    base `base_config` describes (over a base GGUF of `base_gguf_architecture`, when one is known)."""
    import gguf
    import numpy as np
    import torch
    from safetensors.torch import load_file

    adapter_config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    # torch reads bfloat16 and float16 adapters too (numpy has no bfloat16); written as float32, as the converter does
    weights = {k: v.to(torch.float32).numpy() for k, v in load_file(adapter_dir / "adapter_model.safetensors").items()}
    hparams = hyperparameters(base_config)
    vocab_size = hparams.get("vocab_size")
    why = refusal(adapter_config, list(weights), added_tokens(adapter_dir, vocab_size), vocab_size)
    if why:
        raise UnconvertibleAdapter(why)
    found = layout(base_config, base_gguf_architecture)
    arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == found.architecture)
    names = gguf.get_tensor_name_map(arch, int(hparams["num_hidden_layers"]))
    n_head = int(hparams["num_attention_heads"])
    n_kv_head = int(hparams.get("num_key_value_heads") or n_head)

    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in weights.items():
        module, _, part = key[len(PEFT_PREFIX):].rpartition(".lora_")
        hf_name = module.replace(found.strip, "") if found.strip else module
        gguf_name = names.get_name(hf_name + ".weight", try_suffixes=(".weight",))
        if gguf_name is None:
            raise UnconvertibleAdapter(f"the adapted module {module} has no GGUF name for {found.architecture}; "
                                       "limit train.lora_target_modules to the attention and MLP projections")
        pairs.setdefault(gguf_name, {})[part.split(".")[0]] = value
        if found.permuted and module.endswith(("q_proj", "k_proj")):
            pairs[gguf_name]["permute"] = n_head if module.endswith("q_proj") else n_kv_head
    writer = gguf.GGUFWriter(str(target), found.architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    ranks = {int(p["A"].shape[0]) for p in pairs.values()}
    alpha = gguf_alpha(adapter_config, ranks)
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    shapes = {}
    for gguf_name, pair in sorted(pairs.items()):
        a, b = pair["A"], pair["B"]
        if "permute" in pair:
            b = np.ascontiguousarray(permute_rows(b, pair["permute"]))
        for suffix, tensor in ((".lora_a", a), (".lora_b", b)):
            writer.add_tensor(gguf_name + suffix, tensor)
            shapes[gguf_name + suffix] = tuple(tensor.shape)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return GgufAdapter(target, found.architecture, alpha, max(ranks), shapes)


def added_tokens(adapter_dir: Path, vocab_size: int | None) -> int:
    """Tokens the adapter's tokenizer has beyond the base model's vocabulary, from whichever files it was saved with:
    tokenizer.json's added_tokens, tokenizer_config.json's added_tokens_decoder, a slow tokenizer's added_tokens.json
    (none of them: a mistral-common tokenizer file, the base's own vocabulary)."""
    if not vocab_size:
        return 0
    ids: set[int] = set()
    files = {name: adapter_dir / name for name in ("tokenizer.json", "tokenizer_config.json", "added_tokens.json")}
    found = {name: json.loads(path.read_text(encoding="utf-8")) for name, path in files.items() if path.is_file()}
    ids.update(int(t["id"]) for t in found.get("tokenizer.json", {}).get("added_tokens") or [] if "id" in t)
    ids.update(int(i) for i in found.get("tokenizer_config.json", {}).get("added_tokens_decoder") or {})
    ids.update(int(i) for i in (found.get("added_tokens.json") or {}).values())
    return sum(1 for i in ids if i >= int(vocab_size))
