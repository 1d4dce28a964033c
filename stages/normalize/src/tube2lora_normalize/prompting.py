"""What normalize asks the model about one chunk (pure): the prompt's messages, the answer format, limits."""

from __future__ import annotations

from dataclasses import dataclass

from tube2lora_shared.languages import name
from tube2lora_shared.llm import Question
from tube2lora_shared.prompts import PromptTemplate
from tube2lora_shared.records import Transcript

from .answer import FORMAT_DELIMITED, FORMAT_JSON, SCHEMA, parse_clean
from .chunking import Draft

PLACEHOLDERS = {"creator", "title", "context", "text", "language"}


@dataclass(frozen=True)
class Job:
    transcript: Transcript
    draft: Draft


def question(template: PromptTemplate, job: Job, temperature: float, structured_output: str) -> Question:
    """Clean this chunk, the preceding text shown as context; JSON or delimiters as the endpoint allows."""
    messages = template.messages(creator=job.transcript.channel or "the creator", title=job.transcript.title or "",
                                 context=job.draft.context or "(start)", text=job.draft.text,
                                 language=name(job.transcript.language, "the transcript's language"))
    messages[-1]["content"] += "\n\n" + (FORMAT_DELIMITED if structured_output == "none" else FORMAT_JSON)
    return Question(messages, parse_clean, schema=SCHEMA, schema_name="cleaned_transcript", temperature=temperature,
                    max_tokens=len(job.draft.text) // 2 + 200,
                    expect_tokens=len(job.draft.text) // 4 + 6)  # the chunk back, cleaned, in its JSON or delimiters
