"""configs/default.yaml, the real-use recipe, names every key of every section (nested ones too) and loads."""

from __future__ import annotations

import typing

import yaml
from harness import REPO
from pydantic import BaseModel

from tube2lora_shared.config import InputConfig, LLMConfig, PathsConfig, PipelineConfig, load_config
from tube2lora_shared.pipeline import stages

SECTIONS = {"pipeline": PipelineConfig, "paths": PathsConfig, "input": InputConfig, "llm": LLMConfig}
SECTIONS |= {name: spec.section for name, spec in stages().items()}


def _model(annotation) -> type[BaseModel] | None:
    candidates = [annotation, *typing.get_args(annotation)]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def missing_keys(model: type[BaseModel], node: dict, where: str) -> list[str]:
    missing = []
    for name, field in model.model_fields.items():
        if name not in node:
            missing.append(f"{where}.{name}")
        elif (isinstance(node[name], dict) and typing.get_origin(field.annotation) is not dict
              and (inner := _model(field.annotation))):  # a per-name map (gates per brief) may be partial
            missing += missing_keys(inner, node[name], f"{where}.{name}")
    return missing


def test_default_recipe_lists_every_key():
    recipe = yaml.safe_load((REPO / "configs" / "default.yaml").read_text())
    missing = [key for name, model in SECTIONS.items() for key in missing_keys(model, recipe.get(name) or {}, name)]
    assert missing == []
    assert load_config(REPO / "configs" / "default.yaml").llm.base_url == "http://127.0.0.1:8000/v1"
