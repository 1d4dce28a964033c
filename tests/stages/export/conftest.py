"""Export tests reuse the train tests' tiny random Mistral model, and build the same inside a Mistral 3."""

import pytest

from stages.train.conftest import tiny_mistral  # noqa: F401


@pytest.fixture(scope="session")
def tiny_mistral3(tmp_path_factory):
    """builtin:tiny-random-mistral3: the tiny Mistral as the language model of a Mistral3ForConditionalGeneration."""
    from pathlib import Path

    from tube2lora_models.base_model import BUILTIN_MISTRAL3, resolve_base_model

    return Path(resolve_base_model(BUILTIN_MISTRAL3, tmp_path_factory.mktemp("cache")))
