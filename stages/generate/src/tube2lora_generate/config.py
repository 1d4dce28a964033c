"""The `generate` config section: one sub-section per generator, gates beside each."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from tube2lora_shared.config import Section


class TalkGates(Section):
    min_source_words: int = Field(60, ge=0)  # chunks shorter than this are not used
    copy_ngram: int = Field(8, ge=3)  # an answer's word 8-grams found in the source count as copied
    max_copy_share: float = Field(0.5, ge=0, le=1)  # share of answer words inside copied n-grams
    min_novel_ratio: float = Field(0.3, ge=0, le=1)  # share of answer words absent from the source
    min_answer_words: int = Field(12, ge=1)
    max_answer_words: int = Field(260, ge=1)
    max_echo_similarity: float = Field(0.8, ge=0, le=1)  # an answer this similar to its question repeats it


class TalkAsCreator(Section):
    enabled: bool = True
    prompt_file: Path | None = None  # configs/prompts/talk_as_creator.yaml
    turn_pairs: int = Field(2, ge=1, le=8)
    answer_words: int = Field(80, ge=10)  # the target length of an answer
    topic_hint: str | None = None
    clarify_share: float = Field(0.2, ge=0, le=1)  # conversations where the creator asks back first
    temperature: float = Field(0.7, ge=0, le=2)
    gates: TalkGates = Field(default_factory=TalkGates)


class BriefGates(Section):
    min_ratio: float | None = None  # output words / input words
    max_ratio: float | None = None
    min_similarity: float | None = None  # word-level similarity output vs input
    max_similarity: float | None = None
    max_new_entities: int | None = None  # capitalized names the input never mentions


def _default_brief_gates() -> dict[str, BriefGates]:
    return {
        "cleanup_filler": BriefGates(min_ratio=0.6, max_ratio=1.05, min_similarity=0.6, max_similarity=0.99),
        "tighten_60_percent": BriefGates(min_ratio=0.45, max_ratio=0.75),
        "expand_with_examples": BriefGates(min_ratio=1.2, max_ratio=2.5, min_similarity=0.2, max_new_entities=5),
        "convert_to_script": BriefGates(min_ratio=0.6, max_ratio=1.6, min_similarity=0.2),
    }


class EditorialRewrite(Section):
    enabled: bool = False
    prompt_file: Path | None = None  # configs/prompts/editorial_rewrite.yaml (its `briefs` hold the instructions)
    briefs: list[str] = Field(default_factory=lambda: ["cleanup_filler", "tighten_60_percent",
                                                        "expand_with_examples", "convert_to_script"])
    examples_per_chunk: int = Field(1, ge=1, le=8)  # briefs rotate across chunks
    input: str = Field("normalized", pattern="^(normalized|raw)$")
    temperature: float = Field(0.5, ge=0, le=2)
    gates: dict[str, BriefGates] = Field(default_factory=_default_brief_gates)
    min_source_words: int = Field(60, ge=0)


class GenerateConfig(Section):
    model: str | None = None  # overrides llm.model
    creator: str | None = None  # the persona's name; default: the channel name
    persona_system: str = ("You are {creator}. Answer the way {creator} talks in their videos: their words, "
                           "their phrases, their opinions.")
    talk_as_creator: TalkAsCreator = Field(default_factory=TalkAsCreator)
    editorial_rewrite: EditorialRewrite = Field(default_factory=EditorialRewrite)
    exports: list[str] = Field(default_factory=lambda: ["sharegpt", "alpaca"])

    @model_validator(mode="after")
    def _check(self) -> "GenerateConfig":
        talk, edit = self.talk_as_creator, self.editorial_rewrite
        if not talk.enabled and not edit.enabled:
            raise ValueError("no generator enabled")
        if talk.enabled and talk.prompt_file is None:
            raise ValueError("talk_as_creator.prompt_file is required (configs/prompts/talk_as_creator.yaml)")
        if edit.enabled and edit.prompt_file is None:
            raise ValueError("editorial_rewrite.prompt_file is required (configs/prompts/editorial_rewrite.yaml)")
        if "{creator}" not in self.persona_system:
            raise ValueError("persona_system must name the persona with {creator}")
        unknown = set(self.exports) - {"sharegpt", "alpaca"}
        if unknown:
            raise ValueError(f"exports: unknown format(s) {sorted(unknown)}; choose from sharegpt, alpaca")
        return self
