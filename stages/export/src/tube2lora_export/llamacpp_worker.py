"""Run by llama.cpp's interpreter (one that imports llama_cpp), not imported by the stage: scores token windows
with a GGUF model, with or without a GGUF LoRA adapter.

    python llamacpp_worker.py < {"model": F.gguf, "lora": A.gguf | null, "windows": [[ids...], ...]}
    -> {"windows": [{"nll": [...], "top1": [...]}, ...]}   (position t predicts token t + 1)

Needs only numpy and llama_cpp, so it runs in `.tools/llm-server`'s environment.
"""

import json
import sys

import numpy as np
from llama_cpp import Llama


def score(model: str, lora: str | None, windows: list[list[int]]) -> list[dict]:
    n_ctx = max(len(w) for w in windows) + 8
    llm = Llama(model_path=model, lora_path=lora, logits_all=True, n_ctx=n_ctx, n_batch=n_ctx, n_threads=2,
                seed=0, verbose=False)
    out = []
    for ids in windows:
        llm.reset()
        llm.eval(ids)
        logits = np.asarray(llm.scores[: len(ids) - 1], dtype=np.float64)
        top = logits.max(axis=1, keepdims=True)
        logsum = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        nll = logsum - logits[np.arange(len(ids) - 1), ids[1:]]
        out.append({"nll": nll.tolist(), "top1": logits.argmax(axis=1).tolist()})
    return out


if __name__ == "__main__":
    request = json.load(sys.stdin)
    json.dump({"windows": score(request["model"], request.get("lora"), request["windows"])}, sys.stdout)
