"""The export stage's lines in `tube2lora summary`: where the GGUF adapter is, the equivalence check's verdict,
and the command lines that serve the adapter with Ollama, llama.cpp and vLLM (with this machine's run path); without a
GGUF of the base, the llama.cpp lines say BASE.gguf and two notes say how to make one and where it goes."""

from __future__ import annotations

from tube2lora_shared.documents import ExportedAdapter
from tube2lora_shared.manifest import Manifest
from tube2lora_shared.rundir import RunDir
from tube2lora_shared.summary import find_document, show_path

from .run import commands
from .serving import base_gguf_notes


def lines(run: RunDir, manifest: Manifest) -> list[str]:
    exported = find_document(ExportedAdapter, run.stage_dir("export"))
    if not exported:
        return ["export     (no export.json)"]
    out = [f"export     {show_path(run.root / exported.gguf_path)} (GGUF LoRA, {exported.architecture}, rank "
           f"{exported.rank}, alpha {exported.lora_alpha:g}); card {show_path(run.root / exported.adapter_path)}/README.md"]
    check = exported.check
    if check:
        out.append(f"  check    perplexity ratio adapter/base llama.cpp x{check['ratio']['llama_cpp']:.3f} vs PEFT "
                   f"x{check['ratio']['peft']:.3f} ({check['ratio_gap']:+.1%}); top-1 agreement with PEFT "
                   f"{check['top1_agreement']['adapter']:.0%} with the adapter, {check['top1_agreement']['base']:.0%} "
                   f"without ({check['tokens']} held-out tokens)")
    else:
        out.append(f"  check    not run: {exported.check_skipped}")
    if exported.merged_path:
        out.append(f"  merged   {show_path(run.root / exported.merged_path)}")
    labels = {"ollama": "ollama", "llama_server": "llama.cpp", "llama_cpp_python": "llama-cpp-python", "vllm": "vllm"}
    # without a GGUF of the base: the Modelfile's FROM note under ollama's line, BASE.gguf's under llama.cpp's lines
    notes = {} if exported.base_gguf else dict(zip(("ollama", "llama_cpp_python"),
                                                    base_gguf_notes(exported.base_model_location)))
    for key, command in commands(exported, run.root).items():
        out.append(f"  {labels[key]:<10}{command}" if len(labels[key]) < 10 else f"  {labels[key]}: {command}")
        if key in notes:
            out.append(f"  note     {notes[key]}")
    return out
