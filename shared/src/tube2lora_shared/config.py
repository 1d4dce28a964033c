"""Experiment configs: one YAML file, sections named after stages plus the common ones.

Shared owns loading and the common sections (`pipeline`, `paths`, `input`, `llm`); each stage owns the
pydantic model of its own section and validates it with `Config.section()`. Every mistake becomes a
`UsageError` naming the key path, e.g. `download.max_videos: Input should be greater than 0`.

Conventions every section follows:
- a key ending in `_file` names a file; a relative path resolves against the config file's directory,
  the file must exist, and its *content* (not its path) is part of the run's identity;
- secrets never sit in the config: a key ending in `_env` names the environment variable holding one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .errors import UsageError
from .hashing import sha256_file
from .pipeline import partial_install, stage_names

COMMON_SECTIONS = ("pipeline", "paths", "input", "llm")
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

S = TypeVar("S", bound=BaseModel)


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PipelineConfig(Section):
    run_name: str | None = None
    continue_on_error: bool = True
    max_failure_rate: float = Field(0.25, ge=0.0, le=1.0)

    @field_validator("run_name")
    @classmethod
    def _safe_run_name(cls, value: str | None) -> str | None:
        if value is not None and (".." in value or not RUN_NAME.match(value)):
            raise ValueError(
                "must be letters, digits, '.', '_' or '-' (no '/' or '..'), at most 64 characters"
            )
        return value


class PathsConfig(Section):
    runs_dir: Path = Path("runs")
    cache_dir: Path | None = None


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"unsupported URL {url!r}: give an http(s) channel, playlist, video or feed URL")
    return url.strip()


class InputConfig(Section):
    urls: list[Annotated[str, AfterValidator(check_url)]] = Field(default_factory=list)
    url_file: Path | None = None
    languages: list[str] = Field(default_factory=lambda: ["en"])  # the creator's; [] accepts any
    # Source access, for every stage that reaches the source (listing, media, captions):
    cookies_env: str | None = None  # NAME of an env var holding the path of a Netscape cookies.txt
    proxy_env: str | None = None  # NAME of an env var holding a proxy URL

    def cookies_file(self) -> str | None:
        return require_env("input.cookies_env", self.cookies_env)

    def proxy(self) -> str | None:
        return require_env("input.proxy_env", self.proxy_env)

    def source_urls(self) -> list[str]:
        """`urls` then the URL file's lines (blank lines and `#` comments ignored), duplicates dropped."""
        found = list(self.urls)
        if self.url_file is not None:
            found += read_url_file(self.url_file)
        return list(dict.fromkeys(found))


def read_url_file(path: Path) -> list[str]:
    urls = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            urls.append(check_url(line))
        except ValueError as exc:
            raise UsageError(f"input.url_file {path}:{number}: {exc}") from None
    return urls


class Prices(Section):
    prompt_per_million: float = Field(ge=0)  # price per million prompt tokens
    completion_per_million: float = Field(ge=0)
    currency: str = Field("USD", min_length=1, max_length=8)  # what the prices (and llm.budget) are in (a label)

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.prompt_per_million + completion_tokens * self.completion_per_million) / 1e6

    def show(self, amount: float) -> str:
        """An amount in this currency, e.g. `0.0123 USD` (four decimals below 1, else two)."""
        return f"{amount:,.{4 if abs(amount) < 1 else 2}f} {self.currency}"


class LLMConfig(Section):
    """Any OpenAI-compatible endpoint (vLLM, llama.cpp's server, OpenAI...)."""

    base_url: str = "http://127.0.0.1:8000/v1"
    # NAME of an env var holding the endpoint URL; it replaces base_url. For a server whose address
    # changes between runs (`make demo` starts llama.cpp on a free port): the address is not part
    # of the run's identity, the model name is.
    base_url_env: str | None = None
    api_key_env: str | None = None  # NAME of the env var holding the key; required off loopback
    model: str | None = None  # the default; a stage section's `model` overrides it
    timeout_s: float = Field(120.0, gt=0)
    concurrency: int = Field(8, ge=1)  # requests in flight
    max_attempts: int = Field(4, ge=1)  # per request, retries included
    backoff_s: float = Field(1.0, ge=0)  # exponential backoff base, jittered
    max_backoff_s: float = Field(60.0, ge=0)
    # json_schema: OpenAI / vLLM response_format; json_object: llama.cpp's {"type": "json_object",
    # "schema": ...}; none: no constrained output, answers are parsed from delimiters.
    structured_output: Literal["json_schema", "json_object", "none"] = "json_schema"
    prices: Prices | None = None  # gives the manifest a cost
    # Stop a stage before a request could take the run directory's LLM spending past this amount (in the
    # currency of `prices`, which it needs); not part of the run's identity, so raising it resumes the same run.
    budget: float | None = Field(None, gt=0)
    # An answer cut at its max_tokens (finish_reason "length") is asked once more with twice the room, at most this.
    reask_max_tokens: int = Field(4096, ge=1)

    @field_validator("budget")
    @classmethod
    def _budget_needs_prices(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("prices") is None:
            raise ValueError("needs llm.prices ({prompt_per_million: ..., completion_per_million: ...}) to turn "
                             "tokens into money; add the endpoint's prices or remove llm.budget")
        return value


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-4` (no dot) as a float, as YAML 1.2 does."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class FileRef:
    """A file the config references: where it is and what it contains."""

    path: Path
    sha256: str


@dataclass(frozen=True)
class Config:
    path: Path
    text: str
    data: dict[str, Any]  # parsed YAML, `_file` values resolved to absolute paths
    pipeline: PipelineConfig
    paths: PathsConfig
    input: InputConfig
    llm: LLMConfig
    files: dict[str, FileRef] = field(default_factory=dict)  # "input.url_file" -> FileRef

    @property
    def runs_dir(self) -> Path:
        return self.paths.runs_dir

    @property
    def cache_dir(self) -> Path:
        return self.paths.cache_dir or self.paths.runs_dir / ".cache"

    def section(self, name: str, model: type[S]) -> S:
        """Validate one section with its owner's model; a missing section means all defaults."""
        return validate_section(name, self.data.get(name) or {}, model)


def validate_section(name: str, raw: Any, model: type[S]) -> S:
    if not isinstance(raw, dict):
        raise UsageError(f"{name}: must be a mapping of keys to values, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise UsageError(format_validation_error(exc, name)) from None


def format_validation_error(exc: ValidationError, prefix: str) -> str:
    parts = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *error["loc"]))
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        message = message.removeprefix("Value error, ")
        parts.append(f"{loc}: {message}")
    return "; ".join(parts)


def _resolve_files(node: Any, base: Path, dotted: str, files: dict[str, FileRef]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            where = f"{dotted}.{key}" if dotted else str(key)
            if str(key).endswith("_file") and value is not None:
                if not isinstance(value, str):
                    raise UsageError(f"{where}: must be a file path")
                path = Path(value).expanduser()
                path = path if path.is_absolute() else (base / path)
                if not path.is_file():
                    raise UsageError(f"{where}: file {value!r} not found (looked at {path})")
                files[where] = FileRef(path.resolve(), sha256_file(path))
                out[key] = str(path.resolve())
            else:
                out[key] = _resolve_files(value, base, where, files)
        return out
    if isinstance(node, list):
        return [_resolve_files(item, base, f"{dotted}[{i}]", files) for i, item in enumerate(node)]
    return node


def load_config(path: Path | str) -> Config:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"config file {str(path)!r} not found; pass --config with a YAML recipe (see configs/)")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UsageError(f"{path}{where}: {problem}; fix the YAML syntax") from None
    raw = raw or {}
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: the top level must be a mapping of sections")
    known = COMMON_SECTIONS + stage_names()
    for key in raw:
        if key not in known and not partial_install():
            raise UsageError(f"{key}: unknown section; expected one of {', '.join(known)}")
    base = path.resolve().parent
    files: dict[str, FileRef] = {}
    data = _resolve_files(raw, base, "", files)
    paths = validate_section("paths", data.get("paths") or {}, PathsConfig)
    runs_dir = paths.runs_dir.expanduser()
    runs_dir = runs_dir if runs_dir.is_absolute() or "runs_dir" not in (raw.get("paths") or {}) else base / runs_dir
    cache_dir = paths.cache_dir.expanduser() if paths.cache_dir else None
    if cache_dir is not None and not cache_dir.is_absolute():
        cache_dir = base / cache_dir
    paths = PathsConfig(runs_dir=runs_dir.resolve(), cache_dir=cache_dir.resolve() if cache_dir else None)
    config = Config(
        path=path.resolve(),
        text=text,
        data=data,
        pipeline=validate_section("pipeline", data.get("pipeline") or {}, PipelineConfig),
        paths=paths,
        input=validate_section("input", data.get("input") or {}, InputConfig),
        llm=validate_section("llm", data.get("llm") or {}, LLMConfig),
        files=files,
    )
    config.input.source_urls()  # a bad line in the URL file is a config error now, not mid-run
    return config


def require_env(where: str, name: str | None) -> str | None:
    """The value of the environment variable a `*_env` key names; unset is a config error."""
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise UsageError(f"{where}: environment variable {name} is not set; export it or remove {where}")
    return value
