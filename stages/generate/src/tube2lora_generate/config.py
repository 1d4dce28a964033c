"""The `generate` config section: one sub-section per generator, gates beside each."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from tube2lora_shared.config import Section


class OwnWordsGates(Section):
    min_question_words: int = Field(3, ge=1)
    max_question_words: int = Field(40, ge=1)
    copy_ngram: int = Field(8, ge=3)  # a question's word 8-grams found in its passage count as copied
    max_copy_share: float = Field(0.0, ge=0, le=1)  # share of question words inside copied n-grams: 0, none
    min_shared_words: int = Field(1, ge=0)  # the question's content words (4+ letters) found in the passage
    min_score: int | None = Field(4, ge=1, le=5)  # the curation score (1-5) to keep; null: no curation call


class OwnWords(Section):
    """The creator's own words: verbatim passages as answers, the LLM writes the viewer's question."""

    enabled: bool = True
    prompt_file: Path | None = None  # configs/prompts/own_words.yaml: the viewer's question
    curation_prompt_file: Path | None = None  # configs/prompts/own_words_curation.yaml: the 1-5 score
    min_words: int = Field(60, ge=1)  # a passage is whole sentences, this long...
    max_words: int = Field(300, ge=10)  # ...at most (a longer sentence is cut at its commas)
    max_deixis_share: float = Field(0.3, ge=0, le=1)  # share of words in sentences about the video itself
    min_language_probability: float = Field(0.9, ge=0, le=1)  # below: the passage has its video's language
    temperature: float = Field(0.3, ge=0, le=2)
    # A question refused by a gate is asked for again, with the refused question and the reason, up to this many
    # questions per passage in all (only refused passages cost the extra calls); 1: never ask again.
    question_attempts: int = Field(3, ge=1, le=10)
    gates: OwnWordsGates = Field(default_factory=OwnWordsGates)

    @model_validator(mode="after")
    def _check(self) -> "OwnWords":
        if self.max_words < self.min_words:
            raise ValueError(f"max_words ({self.max_words}) must be >= min_words ({self.min_words})")
        return self


class TalkGates(Section):
    min_source_words: int = Field(60, ge=0)  # chunks shorter than this are not used
    copy_ngram: int = Field(8, ge=3)  # an answer's word 8-grams found in the source count as copied
    max_copy_share: float = Field(0.5, ge=0, le=1)  # share of answer words inside copied n-grams
    min_novel_ratio: float = Field(0.3, ge=0, le=1)  # share of answer words absent from the source
    min_answer_words: int = Field(12, ge=1)
    max_answer_words: int = Field(260, ge=1)
    max_echo_similarity: float = Field(0.8, ge=0, le=1)  # an answer this similar to its question repeats it


class TalkAsCreator(Section):
    enabled: bool = False
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
                           "their phrases, their opinions.")  # own_words' system prompt, and inference's
    # LLM-written data (talk_as_creator, editorial_rewrite) carries another system prompt, so a mix tells it apart
    persona_system_written: str = ("You are {creator}, paraphrased by a writer model. Answer the way {creator} "
                                   "talks in their videos: their words, their phrases, their opinions.")
    own_words: OwnWords = Field(default_factory=OwnWords)
    talk_as_creator: TalkAsCreator = Field(default_factory=TalkAsCreator)
    editorial_rewrite: EditorialRewrite = Field(default_factory=EditorialRewrite)
    exports: list[str] = Field(default_factory=lambda: ["sharegpt", "alpaca"])

    @model_validator(mode="after")
    def _check(self) -> "GenerateConfig":
        own, talk, edit = self.own_words, self.talk_as_creator, self.editorial_rewrite
        if not own.enabled and not talk.enabled and not edit.enabled:
            raise ValueError("no generator enabled")
        if own.enabled and own.prompt_file is None:
            raise ValueError("own_words.prompt_file is required (configs/prompts/own_words.yaml)")
        if own.enabled and own.gates.min_score is not None and own.curation_prompt_file is None:
            raise ValueError("own_words.curation_prompt_file is required while own_words.gates.min_score is set "
                             "(configs/prompts/own_words_curation.yaml)")
        if talk.enabled and talk.prompt_file is None:
            raise ValueError("talk_as_creator.prompt_file is required (configs/prompts/talk_as_creator.yaml)")
        if edit.enabled and edit.prompt_file is None:
            raise ValueError("editorial_rewrite.prompt_file is required (configs/prompts/editorial_rewrite.yaml)")
        for key in ("persona_system", "persona_system_written"):
            if "{creator}" not in getattr(self, key):
                raise ValueError(f"{key} must name the persona with {{creator}}")
        if self.persona_system_written == self.persona_system:
            raise ValueError("persona_system_written must differ from persona_system: it marks LLM-written data")
        unknown = set(self.exports) - {"sharegpt", "alpaca"}
        if unknown:
            raise ValueError(f"exports: unknown format(s) {sorted(unknown)}; choose from sharegpt, alpaca")
        return self
