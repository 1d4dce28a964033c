"""faster-whisper on a GPU: CTranslate2 4.x opens CUDA 12's cuBLAS (libcublas.so.12) and cuDNN 9 by name when it
first computes on CUDA. The transcribe image's CUDA base has them as system libraries; a plain environment has only
the CUDA 13 torch's cuBLAS 13, so the stage's `cuda` extra installs `nvidia-cublas-cu12`, and `load()` maps the
system's libraries, else the wheels' (with the cuDNN 9 that comes with torch), into the process globally, so
CTranslate2's by-name opens find them. `preflight()` says which device whisper will use, the driver, and what
CTranslate2 needs, before any model is loaded.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
from pathlib import Path

from tube2lora_shared.errors import UsageError
from tube2lora_shared.nvidia import gpu_names, nvidia_driver

# what CTranslate2 opens by name, and where a wheel keeps it when the system has none
LIBRARIES = {"nvidia.cublas": ("libcublasLt.so.12", "libcublas.so.12"), "nvidia.cudnn": ("libcudnn*.so.9",)}
REMEDY = "`uv sync --all-packages --extra cuda` (the transcribe image's CUDA base has them)"


def _library_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        return None
    for root in (spec.submodule_search_locations or []) if spec else []:
        if (Path(root) / "lib").is_dir():
            return Path(root) / "lib"
    return None


def _system_has(patterns: tuple[str, ...]) -> bool:
    """Whether the system's library path already provides these (by name: the CUDA base images, a CUDA install)."""
    names = [p.replace("*", "") for p in patterns]
    try:
        for name in names:
            ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
    except OSError:
        return False
    return True


def load() -> str | None:
    """Make CUDA 12 cuBLAS and cuDNN 9 loadable by name: the system's, else the wheels' (mapped in globally).
    None when done, else what is missing and how to get it."""
    missing = []
    for package, patterns in LIBRARIES.items():
        if _system_has(patterns):
            continue
        directory = _library_dir(package)
        files = sorted(f for pattern in patterns for f in (directory.glob(pattern) if directory else []))
        if not files:
            missing.append(" / ".join(patterns))
            continue
        pending = files
        while pending:  # dependencies first: retry what failed until nothing more loads
            failed = []
            for f in pending:
                try:
                    ctypes.CDLL(str(f), mode=ctypes.RTLD_GLOBAL)
                except OSError:
                    failed.append(f)
            if len(failed) == len(pending):
                missing.append(", ".join(f.name for f in failed) + " (present but not loadable)")
                break
            pending = failed
    if not missing:
        return None
    return f"CTranslate2 needs CUDA 12's cuBLAS and cuDNN 9 on the GPU; missing: {'; '.join(missing)}: {REMEDY}"


def preflight(device: str, log: logging.Logger) -> str:
    """The device whisper will use ('cuda' or 'cpu'), logged with the GPU, the driver and CTranslate2's needs. With
    device cuda, a GPU CTranslate2 cannot use is a UsageError; with auto, the CPU and a warning saying why."""
    import ctranslate2

    if device == "cpu":
        log.info("transcribe preflight: whisper on the CPU (as configured)")
        return "cpu"
    count = ctranslate2.get_cuda_device_count()
    problem = "no CUDA GPU is visible to CTranslate2" if count == 0 else load()
    if problem is None:
        names = gpu_names()
        log.info("transcribe preflight: whisper on cuda:0 (%s, NVIDIA driver %s), CTranslate2 %s with CUDA 12 cuBLAS "
                 "and cuDNN 9 loaded", names[0] if names else "unknown GPU", nvidia_driver() or "unknown",
                 ctranslate2.__version__)
        return "cuda"
    if device == "cuda":
        raise UsageError(f"transcribe.whisper.device: cuda, but {problem}")
    log.warning("transcribe preflight: whisper on the CPU: %s", problem)
    return "cpu"
