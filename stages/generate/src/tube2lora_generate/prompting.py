"""What generate asks the model: the prompt templates, the question for one task, and own_words' two questions
per passage (pure once loaded)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from tube2lora_shared.errors import UsageError
from tube2lora_shared.llm import Question
from tube2lora_shared.languages import name
from tube2lora_shared.prompts import PromptTemplate, load_template
from tube2lora_shared.records import Passage

from .config import BriefGates, GenerateConfig
from .gates import REFUSED_BECAUSE
from .parsing import (
    CONVERSATION_SCHEMA_NAME,
    EDIT_SCHEMA,
    EDIT_SCHEMA_NAME,
    QUESTION_SCHEMA,
    QUESTION_SCHEMA_NAME,
    SCORE_SCHEMA,
    SCORE_SCHEMA_NAME,
    conversation_schema,
    parse_conversation,
    parse_edit,
    parse_question,
    parse_score,
)
from .tasks import Task

QUESTION_TOKENS = 20  # a viewer's question of about 12 words, in its JSON: what estimate mode counts
RETRY_WARMER = 0.3  # own_words' temperature rises by this much with each question asked again (at most 1.0)
# {language} everywhere: the source's language by name ("Russian"), so every answer is asked for in it
PLACEHOLDERS = {"creator", "title", "text", "turn_pairs", "answer_words", "topic_hint", "clarify", "instruction",
                "language"}
OWN_WORDS_PLACEHOLDERS = {"creator", "title", "text", "language"}
CURATION_PLACEHOLDERS = {"creator", "title", "text", "question", "language"}
CLARIFY = ("In the first answer, {creator} asks the viewer one short clarifying question (ending with a question "
           "mark) before answering.")
FORMAT = {"json": {"talk_as_creator": "Answer with the JSON object only.",
                   "editorial_rewrite": "Answer with the JSON object only.",
                   "own_words": 'Answer with the JSON object only: {"question": "..."}',
                   "own_words_curation": 'Answer with the JSON object only: {"score": <1-5>}'},
          "none": {"talk_as_creator": "Write each turn on its own line, starting with USER: or ASSISTANT:, and "
                                      "nothing else.",
                   "editorial_rewrite": "Answer with the rewritten text between a line <<<OUTPUT>>> and a line "
                                        "<<<END>>>, and nothing else.",
                   "own_words": "Answer with the question only, on one line.",
                   "own_words_curation": "Answer with the score only: one digit from 1 to 5."}}


def load_templates(cfg: GenerateConfig) -> dict[str, PromptTemplate]:
    """Each enabled generator's template; every configured brief must have an instruction in its file."""
    own, talk, edit = cfg.own_words, cfg.talk_as_creator, cfg.editorial_rewrite
    templates: dict[str, PromptTemplate] = {}
    if own.enabled:
        templates["own_words"] = load_template(own.prompt_file, "generate.own_words.prompt_file",
                                               OWN_WORDS_PLACEHOLDERS)
        if own.gates.min_score is not None:
            templates["own_words_curation"] = load_template(own.curation_prompt_file,
                                                            "generate.own_words.curation_prompt_file",
                                                            CURATION_PLACEHOLDERS)
    if talk.enabled:
        templates["talk_as_creator"] = load_template(talk.prompt_file, "generate.talk_as_creator.prompt_file",
                                                     PLACEHOLDERS)
    if edit.enabled:
        templates["editorial_rewrite"] = load_template(edit.prompt_file, "generate.editorial_rewrite.prompt_file",
                                                       PLACEHOLDERS)
        missing = [b for b in edit.briefs if b not in templates["editorial_rewrite"].briefs]
        if missing:
            raise UsageError(f"generate.editorial_rewrite.briefs: {missing} have no instruction in "
                             f"{edit.prompt_file} (its briefs: {sorted(templates['editorial_rewrite'].briefs)})")
    return templates


def question(task: Task, template: PromptTemplate, creator: str, cfg: GenerateConfig,
             structured_output: str) -> Question:
    """The messages, answer format, parser, schema and sampling for one task."""
    talk, edit = cfg.talk_as_creator, cfg.editorial_rewrite
    values = dict(creator=creator, title=task.video.title or "", text=task.source, turn_pairs=str(talk.turn_pairs),
                  answer_words=str(talk.answer_words), instruction="",
                  language=name(task.video.language, "the excerpt's language"),
                  topic_hint=f"Stay on this topic: {talk.topic_hint}." if talk.topic_hint else "",
                  clarify=CLARIFY.format(creator=creator) if task.clarify else "")
    if task.brief:
        values["instruction"] = template.briefs[task.brief].format(**values)
    messages = template.messages(**values)
    messages[-1]["content"] += "\n\n" + FORMAT["none" if structured_output == "none" else "json"][task.generator]
    if task.generator == "talk_as_creator":
        turn_pairs = talk.turn_pairs
        return Question(messages, lambda text: parse_conversation(text, turn_pairs),
                        schema=conversation_schema(talk.turn_pairs, talk.answer_words),
                        schema_name=CONVERSATION_SCHEMA_NAME, temperature=talk.temperature,
                        max_tokens=400 * talk.turn_pairs + 200,
                        # each pair: a viewer's question (~15 words) and an answer of answer_words, 4/3 tokens a
                        # word, and the JSON around each message
                        expect_tokens=talk.turn_pairs * ((15 + talk.answer_words) * 4 // 3 + 20) + 10)
    return Question(messages, parse_edit, schema=EDIT_SCHEMA, schema_name=EDIT_SCHEMA_NAME,
                    temperature=edit.temperature, max_tokens=len(task.source) // 2 + 300,
                    expect_tokens=round(len(task.source) / 4 * expected_ratio(edit.gates.get(task.brief or ""))) + 6)


def expected_ratio(gates: BriefGates | None) -> float:
    """A rewrite's expected length over its source's: the middle of what its brief's gates accept, else 1."""
    if gates is None or gates.min_ratio is None or gates.max_ratio is None:
        return 1.0
    return (gates.min_ratio + gates.max_ratio) / 2


def _formatted(messages: list[dict[str, str]], kind: str, structured_output: str) -> list[dict[str, str]]:
    messages[-1]["content"] += "\n\n" + FORMAT["none" if structured_output == "none" else "json"][kind]
    return messages


def viewer_question(passage: Passage, template: PromptTemplate, creator: str, cfg: GenerateConfig,
                    structured_output: str, earlier: Sequence[dict] = ()) -> Question:
    """Ask for the question a viewer could have asked that the passage answers, in the passage's language; after
    `earlier` questions that a gate refused, with each one and the reason it was not used, and warmer (a model at
    a low temperature tends to write the refused question again word for word: measured with SmolLM2)."""
    messages = _formatted(template.messages(creator=creator, title=passage.video_title or "", text=passage.text,
                                            language=name(passage.language, "the passage's language")),
                          "own_words", structured_output)
    for refused in earlier:
        answer = (refused["question"] if structured_output == "none"
                  else json.dumps({"question": refused["question"]}, ensure_ascii=False))
        messages += [{"role": "assistant", "content": answer},
                     {"role": "user", "content": f"That question cannot be used: {REFUSED_BECAUSE[refused['reason']]}. Write a "
                                                 "different question that this text answers."}]
    return Question(messages, parse_question, schema=QUESTION_SCHEMA,
                    schema_name=QUESTION_SCHEMA_NAME, max_tokens=160, expect_tokens=QUESTION_TOKENS,
                    temperature=round(min(1.0, cfg.own_words.temperature + RETRY_WARMER * len(earlier)), 2))


def curation_question(passage: Passage, asked: str, template: PromptTemplate, creator: str,
                      structured_output: str) -> Question:
    """Ask for a 1-5 score: does the passage answer the question, and does it stand on its own."""
    messages = template.messages(creator=creator, title=passage.video_title or "", text=passage.text, question=asked,
                                 language=name(passage.language, "the passage's language"))
    return Question(_formatted(messages, "own_words_curation", structured_output), parse_score, schema=SCORE_SCHEMA,
                    schema_name=SCORE_SCHEMA_NAME, temperature=0.0, max_tokens=20, expect_tokens=5)
