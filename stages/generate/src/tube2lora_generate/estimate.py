"""What `tube2lora estimate` forecasts of generate, from the videos' text before it exists: own_words' passages cut
as the stage cuts them (min_words..max_words of whole sentences), each asked for its viewer's question and, with
curation on, for its score; then one request per chunk for talk_as_creator and examples_per_chunk for
editorial_rewrite, all with the stage's own prompts. It assumes the filter keeps every video whole (unless the
filter has finished), that no passage is dropped (language, deixis) and that every question passes its gates
the first time; each refused one costs another question, up to own_words.question_attempts.
"""

from __future__ import annotations

from tube2lora_shared.estimate import EstimateContext
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.records import Kept, Normalized, Passage
from tube2lora_shared.segmentation import words

from .config import GenerateConfig
from .consumers import unused
from .cuts import surviving_chunks
from .passages import cut
from .prompting import curation_question, load_templates, question, viewer_question
from .tasks import creator_name, plan

TYPICAL_QUESTION = "What is the one thing most people get wrong about this, and how do I avoid it?"


def forecast(ectx: EstimateContext) -> None:
    cfg: GenerateConfig = ectx.section
    for waste in unused(ectx.config, cfg):
        ectx.note(waste)
    finished = ectx.finished()
    if finished:
        ectx.forecast.passages = list(read_jsonl(finished / "passages.jsonl", Passage))
        return
    normalized = {n.id: n for n in ectx.forecast.normalized or []}
    filtered = ectx.finished("filter")
    if filtered:
        kept = {k.id: k for k in read_jsonl(filtered / "kept.jsonl", Kept) if k.id in normalized}
    else:
        kept = {n.id: Kept(id=n.id, title=n.title, channel=n.channel, text=n.text, words=len(words(n.text)))
                for n in normalized.values() if n.status in ("success", "cached")}
        ectx.assume("the filter keeps every video whole")
    passages = _passages(cfg, kept, normalized) if cfg.own_words.enabled else []
    ectx.forecast.passages = passages
    creator = creator_name(cfg, list(kept), normalized)
    templates = load_templates(cfg)
    structured = ectx.config.llm.structured_output
    questions = [viewer_question(p, templates["own_words"], creator, cfg, structured) for p in passages]
    if "own_words_curation" in templates:
        questions += [curation_question(p, TYPICAL_QUESTION, templates["own_words_curation"], creator, structured)
                      for p in passages]
    tasks = plan(cfg, list(kept), normalized, {vid: surviving_chunks(normalized[vid], k) for vid, k in kept.items()})
    questions += [question(t, templates[t.generator], creator, cfg, structured) for t in tasks]
    ectx.llm(cfg.model).ask_all(questions, "generate estimate")
    if passages:
        ectx.assume(f"{len(passages)} own_words passage(s), none dropped, every question through its gates the "
                    f"first time (a refused one is asked again, up to {cfg.own_words.question_attempts} in all)")


def _passages(cfg: GenerateConfig, kept: dict[str, Kept], normalized: dict[str, Normalized]) -> list[Passage]:
    """The passages the stage would cut, all taken as usable (the ones too short to use are left out)."""
    found = []
    for vid, k in kept.items():
        for index, text in enumerate(cut(k.text, cfg.own_words.min_words, cfg.own_words.max_words)):
            n = len(words(text))
            if n >= cfg.own_words.min_words:
                found.append(Passage(id=f"{vid}:{index}", video_id=vid, video_title=k.title, index=index, text=text,
                                     words=n, language=normalized[vid].language, source_sha256=""))
    return found
