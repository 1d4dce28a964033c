"""Whisper's GPU preflight: CTranslate2 needs CUDA 12's cuBLAS next to the CUDA 13 torch; said before any model."""

from __future__ import annotations

import logging

import pytest

from tube2lora_shared.errors import UsageError
from tube2lora_transcribe import cuda_libs


def test_without_a_gpu_auto_is_the_cpu_with_the_reason_and_cuda_is_one_line(caplog):
    import ctranslate2

    if ctranslate2.get_cuda_device_count():
        pytest.skip("this machine has a GPU CTranslate2 can see")
    with caplog.at_level(logging.INFO):
        assert cuda_libs.preflight("auto", logging.getLogger("t")) == "cpu"
        assert cuda_libs.preflight("cpu", logging.getLogger("t")) == "cpu"
    assert "whisper on the CPU: no CUDA GPU is visible to CTranslate2" in caplog.text
    assert "whisper on the CPU (as configured)" in caplog.text
    with pytest.raises(UsageError, match=r"^transcribe.whisper.device: cuda, but no CUDA GPU is visible"):
        cuda_libs.preflight("cuda", logging.getLogger("t"))


def test_missing_cuda12_cublas_names_the_extra(monkeypatch):
    monkeypatch.setitem(cuda_libs.LIBRARIES, "nvidia.cublas", ("libcublas.so.12.not-here",))
    problem = cuda_libs.load()
    assert problem.startswith("CTranslate2 needs CUDA 12's cuBLAS and cuDNN 9 on the GPU; missing: "
                              "libcublas.so.12.not-here")
    assert problem.endswith("`uv sync --all-packages --extra cuda` (the transcribe image's CUDA base has them)")
