"""A PEFT LoRA adapter as a GGUF LoRA adapter, in the format llama.cpp's convert_lora_to_gguf.py writes and
llama.cpp (`--lora`), llama-cpp-python (`lora_path=`) and Ollama (`ADAPTER`) load:

- metadata: `general.architecture` the base's GGUF architecture (llama, qwen2), `general.type = adapter`,
  `adapter.type = lora`, `adapter.lora.alpha` (float32), `general.file_type` 0 (all F32, the converter's default
  --outtype f32);
- tensors: for each adapted base weight, its GGUF name plus `.lora_a` (PEFT's lora_A, rank x in) and `.lora_b`
  (PEFT's lora_B, out x rank), F32; llama.cpp scales by alpha / rank, rank read from the tensors;
- LLaMA-family bases (LlamaForCausalLM, MistralForCausalLM): convert_hf_to_gguf.py permutes the rows of q_proj
  and k_proj for its rotary layout, so lora_b of those is permuted alike (lora_a is not: it acts on the input).

What llama.cpp's LoRA cannot carry is refused with one sentence: full trained modules (modules_to_save: trained
embeddings or lm_head), LoRA on the embeddings or lm_head, added tokens, DoRA, per-module alpha, biases,
architectures outside the table.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from tube2lora_shared.errors import StageError

PEFT_PREFIX = "base_model.model."
# Hugging Face architecture -> (GGUF architecture, whether q/k rows are permuted as convert_hf_to_gguf.py does)
ARCHITECTURES = {
    "LlamaForCausalLM": ("llama", True),
    "MistralForCausalLM": ("llama", True),
    "Qwen2ForCausalLM": ("qwen2", False),
}


class UnconvertibleAdapter(StageError):
    """The adapter holds something a GGUF LoRA adapter cannot: the message says what and what to do."""


@dataclass(frozen=True)
class GgufAdapter:
    path: Path
    architecture: str
    alpha: float
    rank: int
    tensors: dict[str, tuple[int, ...]]  # GGUF name -> numpy shape as written


def refusal(adapter_config: dict, tensor_names: list[str], added_tokens: int = 0) -> str | None:
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
    if adapter_config.get("trainable_token_indices") or added_tokens:
        return ("the adapter trains or adds tokens beyond the base vocabulary, which a GGUF LoRA adapter cannot carry: "
                "train without added tokens")
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


def convert(adapter_dir: Path, base_config: dict, target: Path) -> GgufAdapter:
    """Write `adapter_dir` (PEFT: adapter_config.json + adapter_model.safetensors) as a GGUF LoRA adapter."""
    import gguf
    import numpy as np
    import torch
    from safetensors.torch import load_file

    adapter_config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    # torch reads bfloat16 and float16 adapters too (numpy has no bfloat16); written as float32, as the converter does
    weights = {k: v.to(torch.float32).numpy() for k, v in load_file(adapter_dir / "adapter_model.safetensors").items()}
    arch_name = (base_config.get("architectures") or ["?"])[0]
    why = refusal(adapter_config, list(weights), _added_tokens(adapter_dir, base_config.get("vocab_size")))
    if why is None and arch_name not in ARCHITECTURES:
        why = (f"the base model's architecture {arch_name} is not one this exporter knows "
               f"({', '.join(ARCHITECTURES)}); convert with llama.cpp's convert_lora_to_gguf.py")
    if why:
        raise UnconvertibleAdapter(why)
    architecture, permuted = ARCHITECTURES[arch_name]
    arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == architecture)
    names = gguf.get_tensor_name_map(arch, int(base_config["num_hidden_layers"]))
    n_head = int(base_config["num_attention_heads"])
    n_kv_head = int(base_config.get("num_key_value_heads") or n_head)

    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in weights.items():
        module, _, part = key[len(PEFT_PREFIX):].rpartition(".lora_")
        gguf_name = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if gguf_name is None:
            raise UnconvertibleAdapter(f"the adapted module {module} has no GGUF name for {architecture}; "
                                       "limit train.lora_target_modules to the attention and MLP projections")
        pairs.setdefault(gguf_name, {})[part.split(".")[0]] = value
        if permuted and module.endswith(("q_proj", "k_proj")):
            pairs[gguf_name]["permute"] = n_head if module.endswith("q_proj") else n_kv_head
    writer = gguf.GGUFWriter(str(target), architecture)
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
    return GgufAdapter(target, architecture, alpha, max(ranks), shapes)


def _added_tokens(adapter_dir: Path, vocab_size: int | None) -> int:
    """Tokens in the adapter's tokenizer beyond the base model's vocabulary."""
    path = adapter_dir / "tokenizer.json"
    if not vocab_size or not path.is_file():
        return 0
    added = json.loads(path.read_text(encoding="utf-8")).get("added_tokens") or []
    return sum(1 for token in added if int(token.get("id", 0)) >= int(vocab_size))
