"""The GGUF LoRA adapter read back with the gguf library: metadata, tensor names, shapes and values against the
PEFT adapter it came from (a tiny random Mistral, and the same inside a Mistral 3, with a LoRA whose B matrices are
not zero); what cannot be converted is refused with its sentence."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tube2lora_export.gguf_lora import UnconvertibleAdapter, convert
from tube2lora_shared.errors import UsageError

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
GGUF_NAMES = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
              "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}  # llama.cpp's names


def save_lora(base_dir, target, dtype=None, **lora):
    """A PEFT LoRA on the tiny model as train puts it there (a Mistral 3's on its language model only), every
    lora_B randomized (PEFT starts them at zero), saved to `target` (in `dtype` when given, e.g. torch.bfloat16)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from tube2lora_models.loading import Placement, load_base, lora_targets

    torch.manual_seed(1)
    model = load_base(str(base_dir), Placement("cpu", torch.float32))
    targets = lora_targets(model, TARGETS)[1]
    model = get_peft_model(model, LoraConfig(**{"r": 4, "lora_alpha": 8, "target_modules": targets, **lora}))
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

    assert {str(v.dtype) for v in load_torch(adapter / "adapter_model.safetensors").values()} == {f"torch.{dtype}"}
    config = base_config(tiny_mistral)
    assert_reads_back(reader, adapter, config["num_attention_heads"], config["num_key_value_heads"])


def assert_reads_back(reader, adapter, n_head: int, n_kv_head: int):
    """Every PEFT tensor is in the GGUF under llama.cpp's name, in F32, with its shape and values; lora_b of q and k
    in llama.cpp's rotary row order (n_head, n_kv_head heads), all else as PEFT has it."""
    import gguf
    from safetensors.torch import load_file as load_torch

    peft = {k: v.float().numpy() for k, v in load_torch(adapter / "adapter_model.safetensors").items()}
    expected = {}
    for key, value in peft.items():  # base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight
        layer, module, side = re.search(r"\.layers\.(\d+)\.\w+\.(\w+_proj)\.lora_([AB])\.weight$", key).groups()
        expected[f"blk.{layer}.{GGUF_NAMES[module]}.weight.lora_{side.lower()}"] = (module, value)
    tensors = {t.name: t for t in reader.tensors}
    assert set(tensors) == set(expected) and len(tensors) == 2 * 2 * len(TARGETS)  # 2 layers, A and B each
    for name, (module, value) in expected.items():
        tensor = tensors[name]
        assert tensor.tensor_type == gguf.GGMLQuantizationType.F32
        assert tuple(int(n) for n in tensor.shape) == value.shape[::-1]  # ggml lists dimensions innermost first
        data = np.asarray(tensor.data).reshape(value.shape)
        if name.endswith("lora_b") and module in ("q_proj", "k_proj"):
            np.testing.assert_array_equal(data, rope_rows(value, n_head if module == "q_proj" else n_kv_head))
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


def test_a_mistral3_adapter_converts_as_llama_cpp_converts_its_text_model(tiny_mistral3, tmp_path):
    """Mistral 3 as llama.cpp's Mistral3Model converts it: architecture mistral3, `language_model.` dropped from the
    names, the q/k rows permuted as Llama's with the head counts of `text_config` (the top level has none)."""
    import gguf
    from safetensors.torch import load_file as load_torch

    adapter = save_lora(tiny_mistral3, tmp_path / "adapter")
    keys = list(load_torch(adapter / "adapter_model.safetensors"))
    assert all(k.startswith("base_model.model.model.language_model.layers.") for k in keys)  # as train writes them
    config = base_config(tiny_mistral3)
    assert config["architectures"] == ["Mistral3ForConditionalGeneration"] and "num_attention_heads" not in config
    written = convert(adapter, config, tmp_path / "adapter.gguf")
    reader = gguf.GGUFReader(tmp_path / "adapter.gguf")
    fields = {name: field.contents() for name, field in reader.fields.items()}
    assert fields["general.architecture"] == written.architecture == "mistral3"
    assert fields["general.type"] == "adapter" and fields["adapter.lora.alpha"] == 8.0 and written.rank == 4
    text = config["text_config"]
    assert (text["num_attention_heads"], text["num_key_value_heads"]) == (4, 2)
    assert_reads_back(reader, adapter, text["num_attention_heads"], text["num_key_value_heads"])

    # a base GGUF from a converter before Ministral 3 says llama: the adapter must say so to load over it
    assert convert(adapter, config, tmp_path / "old.gguf", "llama").architecture == "llama"
    assert gguf.GGUFReader(tmp_path / "old.gguf").fields["general.architecture"].contents() == "llama"
    with pytest.raises(UsageError, match=r"^export.base_gguf: a qwen2 GGUF, but Mistral3ForConditionalGeneration "
                                         r"converts as mistral3"):
        convert(adapter, config, tmp_path / "other.gguf", "qwen2")
    mistral4 = {**config, "text_config": {**text, "model_type": "mistral4"}}  # DeepSeek-V2's layout in llama.cpp
    with pytest.raises(UnconvertibleAdapter, match=r"Mistral3ForConditionalGeneration \(text model mistral4\) is not"):
        convert(adapter, mistral4, tmp_path / "m4.gguf")


def test_lora_on_the_vision_tower_is_refused(tiny_mistral3, tmp_path):
    adapter = save_lora(tiny_mistral3, tmp_path / "adapter", target_modules=r".*vision_tower.*\.(q_proj|k_proj)")
    with pytest.raises(UnconvertibleAdapter, match="adapts the vision tower or the projector"):
        convert(adapter, base_config(tiny_mistral3), tmp_path / "adapter.gguf")


def big_tokenizer(target, added: list[str]):
    """A real fast tokenizer with the tiny models' 32768-token vocabulary and `added` tokens after it, saved as
    transformers saves it (tokenizer.json, tokenizer_config.json)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel({f"t{i}": i for i in range(32768)}, unk_token="t0"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer)
    fast.add_tokens(added)
    fast.save_pretrained(target)


def test_added_tokens_are_refused_wherever_the_vocabulary_size_and_the_tokens_are_written(tiny_mistral, tiny_mistral3,
                                                                                         tmp_path):
    """A Mistral 3 keeps vocab_size in text_config; an adapter saved without tokenizer.json (a slow tokenizer, or
    transformers 4) lists its added tokens in tokenizer_config.json's added_tokens_decoder or added_tokens.json."""
    adapter = save_lora(tiny_mistral3, tmp_path / "m3")
    big_tokenizer(adapter, ["<persona>", "<creator>"])
    with pytest.raises(UnconvertibleAdapter, match=r"^the adapter's tokenizer adds 2 tokens beyond the base model's "
                                                   r"vocabulary of 32768, which a GGUF LoRA adapter cannot carry"):
        convert(adapter, base_config(tiny_mistral3), tmp_path / "m3.gguf")

    adapter = save_lora(tiny_mistral, tmp_path / "plain")
    big_tokenizer(adapter, [])  # no token beyond the vocabulary: converts
    assert convert(adapter, base_config(tiny_mistral), tmp_path / "plain.gguf").rank == 4
    (adapter / "tokenizer.json").unlink()
    config = json.loads((adapter / "tokenizer_config.json").read_text())
    config["added_tokens_decoder"] = {"2": {"content": "</s>", "special": True},  # in the vocabulary: fine
                                      "32768": {"content": "<persona>", "special": False}}
    (adapter / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(UnconvertibleAdapter, match="adds 1 token beyond the base model's vocabulary of 32768"):
        convert(adapter, base_config(tiny_mistral), tmp_path / "config.gguf")
    (adapter / "tokenizer_config.json").unlink()
    (adapter / "added_tokens.json").write_text(json.dumps({"<persona>": 32768, "<creator>": 32769}))
    with pytest.raises(UnconvertibleAdapter, match="adds 2 tokens beyond"):
        convert(adapter, base_config(tiny_mistral), tmp_path / "slow.gguf")
