"""What generate asks the model: the prompt templates, and the question for one task (pure once loaded)."""

from __future__ import annotations

from tube2lora_shared.errors import UsageError
from tube2lora_shared.llm import Question
from tube2lora_shared.prompts import PromptTemplate, load_template

from .config import GenerateConfig
from .parsing import CONVERSATION_SCHEMA_NAME, EDIT_SCHEMA, EDIT_SCHEMA_NAME, conversation_schema, parse_conversation, parse_edit
from .tasks import Task

PLACEHOLDERS = {"creator", "title", "text", "turn_pairs", "answer_words", "topic_hint", "clarify", "instruction"}
CLARIFY = ("In the first answer, {creator} asks the viewer one short clarifying question (ending with a question "
           "mark) before answering.")
FORMAT = {"json": {"talk_as_creator": "Answer with the JSON object only.",
                   "editorial_rewrite": "Answer with the JSON object only."},
          "none": {"talk_as_creator": "Write each turn on its own line, starting with USER: or ASSISTANT:, and "
                                      "nothing else.",
                   "editorial_rewrite": "Answer with the rewritten text between a line <<<OUTPUT>>> and a line "
                                        "<<<END>>>, and nothing else."}}


def load_templates(cfg: GenerateConfig) -> dict[str, PromptTemplate]:
    """Each enabled generator's template; every configured brief must have an instruction in its file."""
    talk, edit = cfg.talk_as_creator, cfg.editorial_rewrite
    templates: dict[str, PromptTemplate] = {}
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
                        max_tokens=400 * talk.turn_pairs + 200)
    return Question(messages, parse_edit, schema=EDIT_SCHEMA, schema_name=EDIT_SCHEMA_NAME,
                    temperature=edit.temperature, max_tokens=len(task.source) // 2 + 300)
