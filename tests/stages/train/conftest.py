"""The built-in tiny random Mistral model (nothing downloaded), for training tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_mistral(tmp_path_factory):
    from pathlib import Path

    from tube2lora_models.base_model import BUILTIN, resolve_base_model

    return Path(resolve_base_model(BUILTIN, tmp_path_factory.mktemp("cache")))
