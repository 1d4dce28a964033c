"""A tiny random Mistral model, built in-process (nothing downloaded), for training tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_mistral(tmp_path_factory):
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    config = MistralConfig(vocab_size=32768, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                           bos_token_id=1, eos_token_id=2)
    directory = tmp_path_factory.mktemp("tiny-mistral")
    MistralForCausalLM(config).save_pretrained(directory)
    return directory
