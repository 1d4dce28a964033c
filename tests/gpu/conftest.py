"""The GPU tier skips, each test with the same one line, where torch sees no usable GPU (and says why)."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)  # after -m has deselected: torch is imported only when a gpu test is to run
def pytest_collection_modifyitems(config, items):
    chosen = [item for item in items if item.get_closest_marker("gpu")]
    if not chosen:
        return
    import torch

    if torch.cuda.is_available():
        return
    from tube2lora_models.preflight import why_no_gpu

    skip = pytest.mark.skip(reason=f"no GPU found ({why_no_gpu()})")
    for item in chosen:
        item.add_marker(skip)
