"""The llama.cpp side of the equivalence check: llamacpp_worker.py run by an interpreter that has llama-cpp-python
(`.tools/llm-server`, which `make llm-server` builds, unless export.llama_cpp_python names another), so the
pipeline's environment never needs that source build."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from tube2lora_shared.errors import StageError

WORKER = Path(__file__).with_name("llamacpp_worker.py")
WORKSPACE = Path(__file__).resolve().parents[4]  # stages/export/src/tube2lora_export/ -> the workspace root
BUILT = WORKSPACE / ".tools" / "llm-server" / "bin" / "python"


def interpreter(configured: str | None) -> str:
    """The Python that runs llama.cpp: export.llama_cpp_python, this one if it has llama_cpp, or the built one."""
    if configured:
        if not Path(configured).exists():
            raise StageError(f"export.llama_cpp_python: {configured} does not exist")
        return configured
    if importlib.util.find_spec("llama_cpp") is not None:
        return sys.executable
    if BUILT.exists():
        return str(BUILT)
    raise StageError("the equivalence check needs llama-cpp-python: run `make llm-server` (builds it into "
                     ".tools/llm-server), name an interpreter in export.llama_cpp_python, or set export.check: false")


def llamacpp_scores(python: str, model: Path, lora: Path | None, windows: list[list[int]],
                    timeout_s: float = 1800) -> list[dict]:
    """Per window {"nll": [...], "top1": [...]} from llama.cpp with the GGUF `model` (and the GGUF `lora`)."""
    request = json.dumps({"model": str(model), "lora": str(lora) if lora else None, "windows": windows})
    done = subprocess.run([python, str(WORKER)], input=request, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        what = f"{model.name} + {lora.name}" if lora else model.name
        raise StageError(f"llama.cpp could not score with {what}: {last}")
    return json.loads(done.stdout)["windows"]
