"""Run by llama.cpp's interpreter (one that imports llama_cpp), not imported: `tube2lora chat`'s llama.cpp side.
Loads the base GGUF with the GGUF LoRA adapter once, then answers chat requests, one JSON line each, streaming.

    python chat_worker.py BASE.gguf ADAPTER.gguf
    -> {"ready": true}
    <- {"messages": [...], "adapter": true|false, "max_tokens": N, "temperature": T, "top_p": P,
        "repeat_penalty": R, "seed": S}
    -> {"piece": "..."} per streamed piece, then {"done": true}   (or {"error": "..."})

"adapter": false answers with the adapter removed from the context (the base model), without reloading anything.
"""

import ctypes
import json
import os
import sys

import llama_cpp
from llama_cpp import Llama


def answer(llm: Llama, request: dict) -> None:
    context = llm._ctx.ctx
    if request["adapter"]:
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(llm._lora_adapter)
        failed = llama_cpp.llama_set_adapters_lora(context, adapters, 1, (ctypes.c_float * 1)(1.0))
    else:
        failed = llama_cpp.llama_set_adapters_lora(context, None, 0, None)
    if failed:
        raise RuntimeError(f"llama_set_adapters_lora returned {failed}")
    llm.reset()  # the cached prompt was computed with the other weights
    stream = llm.create_chat_completion(request["messages"], stream=True, max_tokens=request["max_tokens"],
                                        temperature=request["temperature"], top_p=request["top_p"],
                                        repeat_penalty=request["repeat_penalty"], seed=request["seed"])
    for chunk in stream:
        piece = chunk["choices"][0]["delta"].get("content")
        if piece:
            emit({"piece": piece})
    emit({"done": True})


def emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(model: str, lora: str) -> None:
    llm = Llama(model_path=model, lora_path=lora, n_ctx=2048, n_threads=min(4, os.cpu_count() or 1), seed=0,
                verbose=False)
    emit({"ready": True})
    for line in sys.stdin:
        try:
            answer(llm, json.loads(line))
        except Exception as exc:  # one request failed (e.g. a prompt longer than the context): say so, go on
            emit({"error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
