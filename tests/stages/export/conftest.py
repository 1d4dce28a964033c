"""Export tests reuse the train tests' tiny random Mistral model."""

from stages.train.conftest import tiny_mistral  # noqa: F401
