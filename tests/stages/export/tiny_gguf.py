"""A GGUF of a tiny Hugging Face Mistral / Mistral 3 base (float32), written as llama.cpp's convert_hf_to_gguf.py
writes one (q/k rows permuted, `language_model.` dropped, the vision tower left out), with a stand-in SentencePiece
vocabulary of the same size (the check feeds token ids, never text): llama.cpp's side of a check on a tiny model."""

import json
from pathlib import Path

import numpy as np


def permute(w, n_head: int):
    """convert_hf_to_gguf.py's LlamaModel.permute, spelled out again here (not imported from the code under test)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_base_gguf(model_dir: Path, target: Path, architecture: str = "mistral3") -> Path:
    import gguf
    import torch
    from safetensors.torch import load_file

    config = json.loads((model_dir / "config.json").read_text())
    h = {**config, **(config.get("text_config") or {})}
    arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == architecture)
    names = gguf.get_tensor_name_map(arch, h["num_hidden_layers"])
    w = gguf.GGUFWriter(str(target), architecture)
    w.add_context_length(h["max_position_embeddings"])
    w.add_embedding_length(h["hidden_size"])
    w.add_block_count(h["num_hidden_layers"])
    w.add_feed_forward_length(h["intermediate_size"])
    w.add_head_count(h["num_attention_heads"])
    w.add_head_count_kv(h["num_key_value_heads"])
    w.add_layer_norm_rms_eps(h["rms_norm_eps"])
    rope = h.get("rope_parameters") or {}
    w.add_rope_freq_base(float(rope.get("rope_theta", h.get("rope_theta", 10000.0))))
    head_dim = h.get("head_dim") or h["hidden_size"] // h["num_attention_heads"]
    w.add_rope_dimension_count(head_dim)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_vocab_size(h["vocab_size"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"\u2581t{i}" for i in range(len(tokens), h["vocab_size"])]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    types += [gguf.TokenType.NORMAL] * (h["vocab_size"] - len(types))
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * len(tokens))
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    for name, tensor in sorted(load_file(model_dir / "model.safetensors").items()):
        if "vision_tower" in name or "multi_modal_projector" in name:
            continue
        name = name.replace("language_model.", "")
        data = tensor.to(torch.float32).numpy()
        if name.endswith("q_proj.weight"):
            data = permute(data, h["num_attention_heads"])
        if name.endswith("k_proj.weight"):
            data = permute(data, h["num_key_value_heads"])
        gguf_name = names.get_name(name, try_suffixes=(".weight",))
        assert gguf_name, name
        w.add_tensor(gguf_name, np.ascontiguousarray(data))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return target
