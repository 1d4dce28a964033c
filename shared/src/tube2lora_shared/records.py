"""Interchange records: what stages hand each other, so a consumer never imports a producer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .manifest import Status
from .segmentation import join_text


class CaptionLanguages(BaseModel):
    manual: list[str] = Field(default_factory=list)
    auto: list[str] = Field(default_factory=list)


class Video(BaseModel):
    """One video the download stage saw, with what became of it (`videos.jsonl`)."""

    id: str  # file-name safe
    title: str | None = None
    description: str | None = None
    url: str
    duration: float | None = None  # seconds
    channel: str | None = None
    channel_id: str | None = None
    upload_date: str | None = None  # YYYY-MM-DD
    extractor: str | None = None
    archive_id: str | None = None  # yt-dlp's "<extractor> <id>": the key of its media in the cache
    status: Status
    reason: str | None = None
    error: str | None = None
    media_path: str | None = None  # relative to the run directory
    media_bytes: int | None = None
    media_sha256: str | None = None
    caption_languages: CaptionLanguages = Field(default_factory=CaptionLanguages)

    @property
    def has_media(self) -> bool:
        return self.media_path is not None and self.status in ("success", "cached")


class Segment(BaseModel):
    start: float  # seconds
    end: float
    text: str
    avg_logprob: float | None = None  # whisper only
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    speaker: str | None = None  # "S1", "S2"... in its video, S1 the voice heard most; None: not attributed
    is_creator: bool | None = None  # None: unknown (speakers off, or no audio to tell voices apart)


TranscriptSource = Literal["youtube_manual", "youtube_auto", "whisper"]


class Transcript(BaseModel):
    """One video's transcript (`transcripts.jsonl`, and `stages/transcribe/<id>.json`)."""

    id: str
    title: str | None = None
    channel: str | None = None
    status: Status
    reason: str | None = None
    error: str | None = None
    source: TranscriptSource | None = None
    language: str | None = None
    model: str | None = None  # whisper model, or "youtube-transcript-api"
    settings: dict[str, Any] = Field(default_factory=dict)
    duration: float | None = None  # seconds of media (or of captions)
    segments: list[Segment] = Field(default_factory=list)
    dropped: dict[str, int] = Field(default_factory=dict)  # segments dropped by the guard, by reason
    speakers: int | None = None  # voices found in the audio; None: not attributed
    creator_similarity: float | None = None  # the creator's voice against the channel's voiceprint
    text_path: str | None = None  # relative to the run directory

    @property
    def text(self) -> str:
        return join_text([s.text.strip() for s in self.segments if s.text.strip()])  # no space between CJK lines

    @property
    def creator_text(self) -> str:
        """The words of segments not attributed to another speaker (all of them when speakers are unknown)."""
        return join_text([s.text.strip() for s in self.segments if s.text.strip() and s.is_creator is not False])


class Chunk(BaseModel):
    """A stretch of one transcript, cleaned by the LLM or kept as spoken (with the reason)."""

    index: int
    start: float
    end: float
    source: str
    text: str  # the cleaned text, or the source when `kept_source`
    kept_source: str | None = None  # why the source was kept: drift, meta_commentary, http_500, ...
    similarity: float | None = None
    length_ratio: float | None = None
    speaker: str | None = None  # a chunk never mixes speakers: one voice's turn, or part of it
    is_creator: bool | None = None  # False: another voice (a guest, a host), kept as spoken, not the creator's text


class Normalized(BaseModel):
    """One video's normalized transcript (`normalized.jsonl`, and `stages/normalize/<id>.json`)."""

    id: str
    title: str | None = None
    channel: str | None = None
    language: str | None = None
    status: Status
    reason: str | None = None
    model: str | None = None
    prompt: str | None = None  # the template's name
    chunks: list[Chunk] = Field(default_factory=list)
    text: str = ""  # the creator's words: chunks of other speakers are left out
    text_path: str | None = None


MINHASH_SEED, MINHASH_SCHEME = 1, "affine32"  # how Profile.minhash was made (datasketch), for its readers


class Profile(BaseModel):
    """One video's measurements (`stages/analyze/profiles.jsonl`)."""

    id: str
    title: str | None = None
    duration: float | None = None  # seconds of media
    source: str | None = None  # how it was transcribed
    transcript_language: str | None = None
    language: str | None = None  # identified from the text
    language_probability: float = 0.0
    chars: int = 0
    words: int = 0
    sentences: int = 0
    tokens_target: int = 0  # the target model's tokenizer
    tokens_cl100k: int = 0
    words_per_sentence: float | None = None
    mattr: float | None = None  # moving-average type-token ratio
    reading_ease: float | None = None
    mean_avg_logprob: float | None = None  # whisper confidence
    words_per_minute: float | None = None
    normalize_similarity: float | None = None
    normalize_words_ratio: float | None = None
    chunks_kept_source: float | None = None  # share of normalize chunks kept as spoken
    quality: float | None = None  # [0, 1]
    quality_factors: dict[str, float] = Field(default_factory=dict)
    minhash: list[int] = Field(default_factory=list)


class Kept(BaseModel):
    """A video that passed the filter, with its text after boilerplate removal (`kept.jsonl`)."""

    id: str
    title: str | None = None
    channel: str | None = None
    text: str
    words: int
    quality: float | None = None
    boilerplate_removed: int = 0  # sentences cut


class Dropped(BaseModel):
    """A video the filter dropped, and why (`dropped.jsonl`)."""

    id: str
    title: str | None = None
    reason: str  # the failed gate that explains the others (language before low_confidence before size)
    detail: str
    reasons: list[str] = Field(default_factory=list)  # every gate that failed, `reason` first


class DuplicateMember(BaseModel):
    id: str
    similarity: float  # estimated Jaccard similarity of word shingles with the representative


class DuplicateCluster(BaseModel):
    """Near-duplicate videos: the one kept and the others (`duplicates.jsonl`)."""

    representative: str
    members: list[DuplicateMember]


class Boilerplate(BaseModel):
    """A sentence recurring across the channel (`boilerplate.jsonl`)."""

    sentence: str
    videos: int
    removed_from: list[str]
    kept_in: list[str]


class Provenance(BaseModel):
    generator: str  # own_words | talk_as_creator | editorial_rewrite, with its version
    generator_version: str
    prompt: str  # the template's name
    model: str
    video_id: str
    video_title: str | None = None
    chunk_index: int  # the normalize chunk; for own_words the passage's index in its video
    start: float | None = None  # seconds, the chunk's time range in the video (passages have none)
    end: float | None = None
    source_sha256: str  # of the chunk (or passage) text the example was made from
    brief: str | None = None
    question_source: Literal["real", "generated"] | None = None  # own_words: heard in the video, or LLM-written


class Passage(BaseModel):
    """One whole thought of the creator's, verbatim from the filter's kept text (boilerplate already cut),
    cut at sentence boundaries (`stages/generate/passages.jsonl`): the answer of an own_words example and
    a monologue training text."""

    id: str  # "<video_id>:<index>"
    video_id: str
    video_title: str | None = None
    index: int  # in its video, from 0
    text: str
    words: int
    language: str | None = None
    question: str | None = None  # the question another voice asked right before this turn of the creator's
    source_sha256: str  # of `text`


class ChatExample(BaseModel):
    """A training conversation in the `messages` format TRL and OpenAI use (`dataset_messages.jsonl`)."""

    messages: list[dict[str, str]]
    provenance: Provenance


class EditExample(BaseModel):
    """An editorial rewrite pair (`dataset_edits.jsonl`)."""

    instruction: str
    input: str
    output: str
    provenance: Provenance
