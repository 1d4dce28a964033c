"""The adapter's model card: README.md in the Hugging Face model-card format (YAML front matter, then Markdown).

What it says comes from the stages' documents: the base model, the creator and the licence note on their rights,
the data (videos, passages, examples by generator), the training settings and the held-out figures (train's eval
loss; the equivalence check's perplexities, or that it did not run, why and how to run it), and how to use the
adapter."""

from __future__ import annotations

import math

import yaml

from tube2lora_models.base_model import SMOLLM2
from tube2lora_shared.documents import DatasetManifest, Split, TrainedAdapter, TrainingMetrics

from .serving import base_gguf_notes


def not_checked(why: str) -> str:
    """The card's line where the equivalence check did not run."""
    return (f"- adapter.gguf was not checked against this PEFT adapter ({why}): it may not act as the PEFT adapter "
            "does in llama.cpp. To check it, set export.base_gguf to a GGUF of the base model (llama.cpp's "
            "convert_hf_to_gguf.py) and export.check to true, and run the export stage again")


def hub_id(recipe_base: str, loaded: str) -> str:
    """The base model as the Hub names it (the card's base_model): SmolLM2's id for the built-in, whose weights
    here are its Q4_1 GGUF dequantized, else what train loaded."""
    return "HuggingFaceTB/SmolLM2-135M-Instruct" if recipe_base == SMOLLM2 else loaded


def model_card(*, name: str, trained: TrainedAdapter, base_model_id: str, adapter_config: dict,
               metrics: TrainingMetrics, split: Split, datasets: DatasetManifest, license_note: str,
               commands: dict[str, str], check: dict | None, check_skipped: str | None = None,
               base_gguf: str | None = None) -> str:
    creator = datasets.creator or "the creator"
    front = {
        "base_model": base_model_id,
        "library_name": "peft",
        "pipeline_tag": "text-generation",
        "license": "other",
        "license_name": "creator-rights",
        "tags": ["lora", "peft", "tube2lora", "persona", "gguf"],
    }
    lines = ["---", yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
             f"# {name}", "",
             f"A LoRA adapter for `{base_model_id}` that talks like {creator}, trained by tube2lora on the creator's "
             "own words from their videos.", "",
             "## Licence and the creator's rights", "", license_note, "",
             "## Data", ""]
    lines += [f"- videos: {len(split.train)} for training, {len(split.eval)} held out "
              f"({', '.join(split.eval) or 'none'})"]
    if datasets.passages:
        lines.append(f"- the creator's verbatim passages: {datasets.passages.count} ({datasets.passages.words} words)")
    for generator, counts in datasets.generators.items():
        lines.append(f"- {generator}: {counts.accepted} examples accepted of {counts.attempted} attempted")
    lines.append(f"- training rows: {metrics.train_examples}, held-out rows: {metrics.eval_examples}")
    if datasets.persona:
        lines += ["", f"System prompt the adapter was trained with: \"{datasets.persona}\""]
    lines += ["", "## Training", "",
              f"- base model: `{trained.base_model}`; tokenizer: {trained.tokenizer} ({trained.chat_format} chat format)",
              f"- LoRA r {adapter_config.get('r')}, alpha {adapter_config.get('lora_alpha')}, dropout "
              f"{adapter_config.get('lora_dropout')}, target modules {', '.join(trained.lora_target_modules)}",
              f"- {metrics.steps} steps, best step {metrics.best_step}, max length {metrics.max_length}, "
              f"{metrics.dtype} on {metrics.device}"]
    lines += ["", "## Held-out figures", ""]
    if metrics.eval_loss is not None:
        lines.append(f"- eval loss on the held-out videos' rows: {metrics.eval_loss:.4f} "
                     f"(perplexity {math.exp(metrics.eval_loss):.2f})")
    if check:
        peft = check["perplexity"]["peft"]
        lines.append(f"- held-out transcript perplexity, base {peft['base']:.2f} -> adapter {peft['adapter']:.2f} "
                     f"(x{check['ratio']['peft']:.3f}); llama.cpp with the GGUF adapter x{check['ratio']['llama_cpp']:.3f}")
    else:
        lines.append(not_checked(check_skipped or "not asked for"))
    lines += ["", "## Use", "", "```sh"] + [f"# {what}\n{command}" for what, command in commands.items()] + ["```"]
    if not base_gguf:
        lines += [""] + [f"- {note[0].upper()}{note[1:]}." for note in base_gguf_notes(base_model_id)]
    lines.append("")
    return "\n".join(lines)
