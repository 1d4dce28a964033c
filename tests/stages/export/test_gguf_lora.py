"""The GGUF LoRA adapter read back with the gguf library: metadata, tensor names, shapes and values against the
PEFT adapter it came from (a tiny random Mistral with a LoRA whose B matrices are not zero); what cannot be
converted is refused with its sentence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tube2lora_export.gguf_lora import UnconvertibleAdapter, convert

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
GGUF_NAMES = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
              "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}  # llama.cpp's names


def save_lora(base_dir, target, dtype=None, **lora):
    """A PEFT LoRA on the tiny model, every lora_B randomized (PEFT starts them at zero), saved to `target` (in
    `dtype` when given, e.g. torch.bfloat16)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(**{"r": 4, "lora_alpha": 8, "target_modules": TARGETS, **lora}))
    if dtype is not None:
        model = model.to(dtype)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_()
    model.save_pretrained(target)
    return target


def base_config(base_dir) -> dict:
    return json.loads((base_dir / "config.json").read_text())


def rope_rows(b: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's rotary row order, spelled out row by row: within each head, row 2i + j is HF row j * d/2 + i."""
    d = b.shape[0] // n_head
    order = [h * d + j * (d // 2) + i for h in range(n_head) for i in range(d // 2) for j in range(2)]
    return b[order]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_gguf_adapter_reads_back_as_the_peft_adapter(tiny_mistral, tmp_path, dtype):
    import gguf
    import torch
    from safetensors.torch import load_file as load_torch

    adapter = save_lora(tiny_mistral, tmp_path / "adapter", getattr(torch, dtype))
    written = convert(adapter, base_config(tiny_mistral), tmp_path / "adapter.gguf")
    reader = gguf.GGUFReader(tmp_path / "adapter.gguf")
    fields = {name: field.contents() for name, field in reader.fields.items()}
    assert fields["general.architecture"] == "llama"  # MistralForCausalLM converts as llama, as llama.cpp does
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == 8.0 and written.alpha == 8.0 and written.rank == 4

    peft = {k: v.float().numpy() for k, v in load_torch(adapter / "adapter_model.safetensors").items()}
    assert {str(v.dtype) for v in load_torch(adapter / "adapter_model.safetensors").values()} == {f"torch.{dtype}"}
    expected = {}
    for key, value in peft.items():  # base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight
        parts = key.split(".")
        layer, module, side = parts[4], parts[6], parts[7][-1].lower()
        expected[f"blk.{layer}.{GGUF_NAMES[module]}.weight.lora_{side}"] = (module, value)
    tensors = {t.name: t for t in reader.tensors}
    assert set(tensors) == set(expected) and len(tensors) == 2 * 2 * len(TARGETS)  # 2 layers, A and B each
    config = base_config(tiny_mistral)
    for name, (module, value) in expected.items():
        tensor = tensors[name]
        assert tensor.tensor_type == gguf.GGMLQuantizationType.F32
        assert tuple(int(n) for n in tensor.shape) == value.shape[::-1]  # ggml lists dimensions innermost first
        data = np.asarray(tensor.data).reshape(value.shape)
        if name.endswith("lora_b") and module in ("q_proj", "k_proj"):
            heads = config["num_attention_heads"] if module == "q_proj" else config["num_key_value_heads"]
            np.testing.assert_array_equal(data, rope_rows(value, heads))
            assert not np.array_equal(data, value)
        else:
            np.testing.assert_array_equal(data, value)


def test_trained_embeddings_are_refused_with_the_reason(tiny_mistral, tmp_path):
    adapter = save_lora(tiny_mistral, tmp_path / "adapter", modules_to_save=["embed_tokens", "lm_head"])
    with pytest.raises(UnconvertibleAdapter, match=r"^the adapter carries fully trained modules \(embed_tokens, "
                                                   r"lm_head: trained embeddings or lm_head, modules_to_save\)"):
        convert(adapter, base_config(tiny_mistral), tmp_path / "adapter.gguf")
    assert not (tmp_path / "adapter.gguf").exists()


def test_dora_and_unknown_architectures_are_refused(tiny_mistral, tmp_path):
    dora = save_lora(tiny_mistral, tmp_path / "dora", use_dora=True)
    with pytest.raises(UnconvertibleAdapter, match="uses DoRA"):
        convert(dora, base_config(tiny_mistral), tmp_path / "dora.gguf")
    plain = save_lora(tiny_mistral, tmp_path / "plain")
    with pytest.raises(UnconvertibleAdapter, match="architecture GPT2LMHeadModel is not one this exporter knows"):
        convert(plain, {**base_config(tiny_mistral), "architectures": ["GPT2LMHeadModel"]}, tmp_path / "plain.gguf")


def test_rslora_alpha_carries_peft_scale(tiny_mistral, tmp_path):
    """llama.cpp scales by alpha / r; rsLoRA by alpha / sqrt(r): the GGUF alpha makes the two scales equal."""
    adapter = save_lora(tiny_mistral, tmp_path / "adapter", use_rslora=True)
    written = convert(adapter, base_config(tiny_mistral), tmp_path / "adapter.gguf")
    assert written.alpha / 4 == pytest.approx(8 / 4 ** 0.5)
