"""The `train` config section; keys named as TRL and PEFT name them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from tube2lora_shared.config import Section

ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SCHEDULERS = Literal["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
                     "inverse_sqrt"]
# optimizers that need bitsandbytes on a CUDA GPU (8-bit states, or paged to host memory)
CUDA_OPTIMIZERS = ("adamw_bnb_8bit", "adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit", "lion_8bit",
                   "paged_lion_8bit", "paged_lion_32bit", "ademamix_8bit", "paged_ademamix_8bit",
                   "paged_ademamix_32bit", "rmsprop_bnb_8bit")


class MixConfig(Section):
    """Each source's weight in the training TOKENS (supervised tokens, from training videos): shares are
    the weights over the sources that have data; 0 leaves a source out. See mixing.py for how they are met.
    A recipe's `mix` names the sources it wants: one it does not name weighs 0 (so `{own_words: 1}` is
    own_words only); without a `mix` key the default is own_words 1 + monologue 1."""

    own_words: float = Field(0.0, ge=0)  # chats answered with the creator's verbatim passages
    talk_as_creator: float = Field(0.0, ge=0)  # chats an LLM wrote in the creator's style
    editorial_rewrite: float = Field(0.0, ge=0)  # draft -> the creator's text rewrites
    monologue: float = Field(0.0, ge=0)  # the creator's passages as plain text, loss on every token


class TrainConfig(Section):
    # a hub id (mistralai/Mistral-7B-Instruct-v0.3), a local model directory, or builtin:tiny-random-mistral
    # (random weights, for checking the pipeline offline: it learns nothing useful)
    base_model: str | None = None
    # auto: the base model's own tokenizer and chat template; mistral:v3 (v1, v2, v7, tekken or a file):
    # the real Mistral tokenizer from mistral-common
    tokenizer: str = "auto"
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    lora_target_modules: list[str] = Field(default_factory=lambda: list(ALL_PROJECTIONS))
    use_rslora: bool = False
    use_dora: bool = False
    load_in_4bit: bool = False  # QLoRA through bitsandbytes: CUDA only
    # auto: this process's GPU when torch can use one, else the CPU; cpu: the CPU even with a GPU; cuda: a GPU or an error
    device: Literal["auto", "cuda", "cpu"] = "auto"
    cpu_max_params: int = Field(1_000_000_000, ge=0)  # larger models are refused on the CPU unless device: cpu
    learning_rate: float = Field(2e-4, gt=0)
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: int = -1  # > 0 overrides epochs
    per_device_train_batch_size: int = Field(2, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    gradient_checkpointing: bool = False
    max_length: int | None = Field(None, ge=16)  # null: the longest example, rounded up to 64, capped below
    max_length_cap: int = Field(4096, ge=16)
    warmup_ratio: float = Field(0.03, ge=0, lt=1)  # share of the steps with a linear warmup from 0
    lr_scheduler_type: SCHEDULERS = "cosine"
    weight_decay: float = Field(0.0, ge=0)
    optim: str = "adamw_torch"  # any transformers optimizer name; the 8-bit and paged ones need CUDA
    # rows packed into max_length sequences without padding (best-fit decreasing; each row attends to itself only)
    packing: bool = True
    mix: MixConfig = Field(default_factory=lambda: MixConfig(own_words=1.0, monologue=1.0))
    # a source scarcer than its share is repeated up to it, at most this many times over (1: nothing repeated,
    # the scarcest source sets the total and the others are cut to it)
    max_repeats: float = Field(3.0, ge=1)
    eval_share: float = Field(0.2, ge=0, lt=1)  # share of *videos* held out (no chunk of them is trained on)
    eval_steps: int = Field(50, ge=1)
    early_stopping_patience: int = Field(3, ge=0)  # evaluations without a better eval loss before stopping; 0: off
    logging_steps: int = Field(10, ge=1)
    save_steps: int | None = Field(None, ge=1)  # null: at every evaluation; else a multiple of eval_steps
    seed: int = 42
    merge: bool = False  # also save base + adapter merged into full weights (checked against the adapter)
    merge_tolerance: float = Field(1e-3, gt=0)  # max |logit difference| allowed between merged and base+adapter

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "editorial_weight" in data:
            raise ValueError("editorial_weight was replaced by train.mix.editorial_rewrite (a weight in the "
                             "training tokens); rename the key")
        return data

    @model_validator(mode="after")
    def _check(self) -> "TrainConfig":
        if not self.base_model:
            raise ValueError("base_model is required: a hub id or a local model directory")
        return self

    @field_validator("save_steps")
    @classmethod
    def _saved_where_evaluated(cls, value: int | None, info: ValidationInfo) -> int | None:
        every = info.data.get("eval_steps")
        if value and info.data.get("eval_share") and every and value % every:
            raise ValueError(f"must be a multiple of train.eval_steps ({every}): the best checkpoint is kept, so "
                             "checkpoints are saved where the eval loss is known")
        return value
