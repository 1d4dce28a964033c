"""The JSON documents a stage writes once and later stages (or `tube2lora summary`) read: one record
per file, each owning its file name, so no reader spells a producer's file name or reads an untyped dict.

    FetchSettings     stages/download/fetch_settings.json   how media was fetched (on-demand audio does the same)
    DatasetManifest   stages/generate/dataset_manifest.json the creator and each generator's counts
    Split             stages/train/split.json              the video-level train/eval split
    TrainedAdapter    stages/train/adapter.json            what train decided: base model, tokenizer, adapter
    TrainingMetrics   stages/train/training_metrics.json   losses, best step, the mix, speed, the merge check
    Evaluation        stages/evaluate/evaluation.json      base vs adapter: perplexity, voice, style, judge
    ExportedAdapter   stages/export/export.json            the GGUF adapter, serving commands, the equivalence check

Paths inside them are relative to the run directory (or, where a field says so, to the cache root).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import StageError
from .files import write_text_atomic

D = TypeVar("D", bound="Document")


class Document(BaseModel):
    """A record stored as one JSON file named FILE in a stage directory."""

    model_config = ConfigDict(populate_by_name=True)
    FILE: ClassVar[str]

    @classmethod
    def path(cls, stage_dir: Path) -> Path:
        return stage_dir / cls.FILE

    @classmethod
    def find(cls: type[D], stage_dir: Path) -> D | None:
        """The document in `stage_dir`, or None when that stage did not write one."""
        path = cls.path(stage_dir)
        if not path.is_file():
            return None
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValidationError, ValueError) as exc:
            first = str(exc).splitlines()[0]
            raise StageError(f"{path} is not a valid {cls.__name__} ({first}); re-run the stage that wrote it "
                             "with --force") from None

    @classmethod
    def read(cls: type[D], stage_dir: Path) -> D:
        found = cls.find(stage_dir)
        if found is None:
            raise StageError(f"{cls.path(stage_dir)} is missing; re-run the {stage_dir.name} stage with --force "
                             "(an older version did not write it)")
        return found

    def write(self, stage_dir: Path) -> Path:
        path = self.path(stage_dir)
        write_text_atomic(path, self.model_dump_json(indent=2, by_alias=True) + "\n")
        return path


class FetchSettings(Document):
    """How the download stage asked yt-dlp for media: a stage that fetches a video's audio on demand
    uses the same format and politeness, so the file lands in the same media-cache entry."""

    FILE: ClassVar[str] = "fetch_settings.json"
    audio_format: str
    video_format: str
    retries: int  # yt-dlp's own HTTP / fragment retries
    socket_timeout_s: float
    sleep_requests_s: float
    sleep_interval_s: float
    max_sleep_interval_s: float | None
    rate_limit_bytes: int | None
    breaker_after: int = 3  # refusals in a row (bot check, 429) after which a stage stops asking the source
    js_runtime: str | None = None  # what solved YouTube's JavaScript challenges ("deno 2.9.8 with yt-dlp-ejs 0.8.0")


class GeneratorCounts(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    attempted: int = 0
    accepted: int = 0
    yield_: float | None = Field(None, alias="yield")
    tokens_cl100k: int | None = None
    file: str | None = None  # relative to the generate stage's directory
    rejected: dict[str, int] = Field(default_factory=dict)  # by reason


class PassageCounts(BaseModel):
    """The creator's verbatim passages (`passages.jsonl`): how many are usable, and what was dropped why."""

    file: str = "passages.jsonl"  # relative to the generate stage's directory
    count: int = 0  # usable passages, in the file
    words: int = 0
    dropped: dict[str, int] = Field(default_factory=dict)  # by reason: deixis, wrong_language, too_short


class DatasetManifest(Document):
    """What the generate stage made, per generator."""

    FILE: ClassVar[str] = "dataset_manifest.json"
    creator: str | None = None
    persona: str | None = None  # the system prompt of the creator's own words: what to use when talking to the adapter
    model: str | None = None
    generators: dict[str, GeneratorCounts] = Field(default_factory=dict)
    passages: PassageCounts | None = None
    parameters: dict = Field(default_factory=dict)  # the generate section as run
    videos: list[str] = Field(default_factory=list)  # the videos examples were made from
    exports: list[str] = Field(default_factory=list)


class Split(Document):
    """The video-level split over the usable videos (kept, with at least one passage or example), written
    before training: no row of an eval video is trained on."""

    FILE: ClassVar[str] = "split.json"
    train: list[str]
    eval: list[str]
    train_examples: int  # training rows (chats and monologue passages) after the mix
    eval_examples: int  # eval rows: the held-out videos' passages and their chats
    excluded: list[str] = Field(default_factory=list)  # kept videos with no passage or example: on neither side
    train_rows: dict[str, int] = Field(default_factory=dict)  # per source
    eval_rows: dict[str, int] = Field(default_factory=dict)  # per source


class TrainedAdapter(Document):
    """What the train stage decided and made, so later stages re-derive nothing from train's section."""

    FILE: ClassVar[str] = "adapter.json"
    base_model: str  # as the recipe names it: a hub id, a local directory, builtin:...
    base_model_path: str  # what was loaded: the hub id or directory (relative to the cache root when cached)
    base_model_cached: bool = False  # base_model_path is inside the cross-run cache (a built-in model)
    tokenizer: str  # the chat format's tokenizer: auto (the base model's own), a tokenizer, mistral:v3...
    chat_format: Literal["template", "mistral"]
    adapter_path: str  # relative to the run directory; holds the tokenizer too
    tensorboard_path: str  # relative to the run directory: the trainer's TensorBoard logs
    merged_path: str | None = None  # base + adapter in full weights, when train.merge
    max_length: int
    lora_target_modules: list[str]
    load_in_4bit: bool = False  # trained on the base's 4-bit weights (QLoRA): evaluate and chat load it so too

    def base_model_location(self, cache_root: Path) -> str:
        """Where to load the base model from on this machine."""
        return str(cache_root / self.base_model_path) if self.base_model_cached else self.base_model_path


class MergeCheck(BaseModel):
    max_abs_logit_diff: float
    tolerance: float
    ok: bool
    probes: int
    path: str  # relative to the run directory
    dtype: str | None = None  # what the merged weights were saved in: the base model's dtype
    device: str | None = None  # where the merge ran: cuda (in the base's dtype) or cpu (in float32)
    compared_in: str | None = None  # the dtype the logits were compared in (the tolerance allows its rounding)
    from_4bit: bool = False  # a QLoRA adapter, merged into the full-precision base (PEFT's documented way)


class SourceMix(BaseModel):
    """One training source in the mix: shares are of the supervised training tokens."""

    weight: float  # train.mix.<source>
    target_share: float  # the weight renormalised over the sources that had data (0: left out)
    share: float  # achieved
    rows: int  # training rows used, repeats counted
    unique_rows: int = 0  # distinct training rows used (older metrics: not recorded)
    available_rows: int  # training rows there were
    supervised_tokens: int
    tokens: int


class TrainingMetrics(Document):
    FILE: ClassVar[str] = "training_metrics.json"
    steps: int
    train_loss: float
    train_losses: list[float]
    eval_losses: list[float]
    eval_loss: float | None  # of the saved adapter (the best checkpoint's, when there is an eval set)
    best_step: int | None = None  # the step whose checkpoint was kept: the lowest eval loss
    best_eval_loss: float | None = None
    stopped_early: bool = False  # early stopping ended training before max_steps / the epochs
    mix: dict[str, SourceMix] = Field(default_factory=dict)  # per source
    labels_checked: list[str] = Field(default_factory=list)  # sources whose collated batch labels were checked
    train_examples: int
    eval_examples: int
    max_length: int
    lora_target_modules: list[str]
    resumed: bool
    reused: bool = False  # taken from a training with the same inputs that finished earlier (nothing trained)
    seconds: float
    tokens_per_second: float | None
    device: str
    world_size: int
    dtype: str
    merge_check: MergeCheck | None = None


class Evaluation(Document):
    """The evaluate stage's numbers (the report's source), and the names of the reports it renders."""

    FILE: ClassVar[str] = "evaluation.json"
    REPORT_MD: ClassVar[str] = "report.md"
    REPORT_HTML: ClassVar[str] = "report.html"
    creator: str
    language: str | None = None  # the creator's (most passages'); English-only measures are None in other languages
    judge: dict | None = None  # "which is the real creator?": adapter / base -> the judge's verdict counts, when asked
    data: dict = Field(default_factory=dict)  # what the adapter was trained on
    base_model: str  # as the recipe names it
    adapter: str  # relative to the run directory
    eval_videos: list[str]
    eval_passages: int = 0  # the held-out videos' passages (the transcript perplexity's text)
    eval_questions: int = 0  # held-out own_words questions base and adapter answered
    eval_chats: int = 0  # held-out LLM-written chats scored (talk_as_creator, when generated)
    perplexity: dict[str, dict[str, float | None]]  # transcripts / answers / chats -> base / adapter
    voice: dict = Field(default_factory=dict)  # phrases, copied, delta, repetition, identical: the answers' voice
    style: dict[str, dict]  # reference (the real answers) / base / adapter -> style measures
    signature_phrases: list[str]
    samples: list[dict[str, str]]
    improved: dict[str, bool | None]


class ExportedAdapter(Document):
    """What the export stage wrote and how to serve it; the equivalence check's figures when it ran."""

    FILE: ClassVar[str] = "export.json"
    name: str  # the adapter's name in Ollama and vLLM
    base_model: str  # as the recipe names it
    base_model_location: str  # what vLLM loads: the hub id or directory train loaded (the cached copy of a built-in)
    adapter_path: str  # the PEFT adapter with its model card (README.md), relative to the run directory
    gguf_path: str  # the GGUF LoRA adapter
    modelfile_path: str  # the Ollama Modelfile
    merged_path: str | None = None  # base + adapter merged, in the base's dtype (export.merged)
    architecture: str  # the GGUF architecture (llama, qwen2)
    lora_alpha: float  # adapter.lora.alpha as written
    rank: int
    base_gguf: str | None = None  # the base model's GGUF the check ran on and the Modelfile / llama-server name
    commands: dict[str, str]  # ollama / llama_server / vllm -> a command line
    check: dict | None = None  # equivalence.compare()'s result; None when export.check was off or had no GGUF base
    check_skipped: str | None = None  # why it did not run
