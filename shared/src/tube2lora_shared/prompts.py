"""Prompt templates: YAML files with `name`, `system`, `user` (named {placeholders}).

An unknown placeholder is a config error when the template is loaded, not a failure per item.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import UsageError


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    system: str
    user: str
    briefs: dict[str, str] = field(default_factory=dict)  # named instructions (editorial briefs)

    def messages(self, **values: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system.format(**values).strip()},
                {"role": "user", "content": self.user.format(**values).strip()}]


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def load_template(path: Path, where: str, allowed: set[str]) -> PromptTemplate:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{where}: cannot read prompt template {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("name", "system", "user")):
        raise UsageError(f"{where}: {path} must be a mapping with string keys name, system and user")
    extra = set(data) - {"name", "system", "user", "briefs"}
    if extra:
        raise UsageError(f"{where}: {path} has unknown keys {sorted(extra)}")
    for part in ("system", "user"):
        try:
            unknown = placeholders(data[part]) - allowed
        except ValueError as exc:
            raise UsageError(f"{where}: {path} {part}: {exc}") from None
        if unknown:
            raise UsageError(f"{where}: {path} {part} uses unknown placeholder(s) "
                             f"{', '.join('{' + u + '}' for u in sorted(unknown))}; allowed: "
                             f"{', '.join('{' + a + '}' for a in sorted(allowed))}")
    briefs = data.get("briefs") or {}
    if not isinstance(briefs, dict) or not all(isinstance(v, str) for v in briefs.values()):
        raise UsageError(f"{where}: {path} briefs must map brief names to instructions")
    for brief, text in briefs.items():
        unknown = placeholders(text) - allowed
        if unknown:
            raise UsageError(f"{where}: {path} brief {brief} uses unknown placeholder(s) {sorted(unknown)}")
    return PromptTemplate(data["name"], data["system"], data["user"], {str(k): v for k, v in briefs.items()})
