"""The transcribe stage's orchestration: for each downloaded video, captions or whisper, then the guard.

Reads `stages/download/videos.jsonl` (videos with media, or YouTube videos without: captions first,
audio on demand, fetched as download's `fetch_settings.json` says) and the `input` section (languages,
cookies, proxy). Writes `stages/transcribe/<id>.json` (the Transcript record with segments), `<id>.txt`,
`transcripts.jsonl` and `metrics.jsonl`. Raw backend results are cached across runs: whisper by (media
sha256, settings, prompt), captions by (video id, settings), so a new run directory or a changed guard
threshold never transcribes again.

Damaged media (whisper cannot decode it): the cached copy is dropped and the video fetched once more, as download's
`fetch_settings.json` says; the new copy is transcribed. A new copy that is damaged too (or the same bytes) is a
permanent `corrupt_media` failure, remembered per video and bytes (`transcribe/refetched`), so later runs neither
fetch nor retry it (`--retry-failed` does).

Speakers (transcribe.speakers): each video's voices are found as it is transcribed (cached by audio hash,
encoder and settings); the creator's voice is decided once all videos are in, against the channel's voiceprint
(the voice heard in more videos than any other, or transcribe.creator_voice_file), and only then are the records
written. A video whose creator cannot be told apart (no voice near enough, or two voices heard in equally many
videos) is skipped as `creator_unknown`, never guessed.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from tube2lora_media.ondemand import fetch_again, fetch_audio
from tube2lora_media.politeness import CircuitBreaker
from tube2lora_media.ytdlp import NotAsked, SourceError
from tube2lora_shared import segmentation
from tube2lora_shared.cache import Cache
from tube2lora_shared.documents import FetchSettings
from tube2lora_shared.errors import StageError
from tube2lora_shared.files import write_text_atomic
from tube2lora_shared.jsonl import read_jsonl, write_jsonl
from tube2lora_shared.lifecycle import StageContext
from tube2lora_shared.records import Segment, Transcript, Video

from .captions import YouTubeCaptions
from .config import TranscribeConfig
from .diarizer import Diarizer
from .guard import apply_guard
from .outcome import RawTranscript, Unusable
from .speakers import Diarization, attribute, channel_voice, creator_of
from .voices import GE2EEncoder
from .whisper import FasterWhisperTranscriber

WHISPER, CAPTIONS = "transcribe/whisper", "transcribe/captions"
REFETCHED = "transcribe/refetched"  # per (video, damaged bytes): fetched again and damaged for good


def run(ctx: StageContext) -> None:
    cfg: TranscribeConfig = ctx.section
    languages = ctx.config.input.languages
    videos = [v for v in read_jsonl(ctx.upstream["download"].dir / "videos.jsonl", Video)
              if v.status in ("success", "cached")]
    whisper = FasterWhisperTranscriber(cfg.whisper, languages, ctx.cache.root / "whisper-models", ctx.log)
    pacing = FetchSettings.find(ctx.upstream["download"].dir)  # captions are asked as politely as media
    captions = YouTubeCaptions(cfg.captions, languages, ctx.config.input.proxy(), pacing)
    diarizer = Diarizer(GE2EEncoder(), cfg.diarization, ctx.cache) if cfg.speakers != "off" else None
    stage = Transcription(ctx, cfg, whisper, captions, diarizer)
    transcripts = [stage.one(video) for video in ctx.track(videos, "videos", total=len(videos))]
    stage.check_breaker(transcripts)
    transcripts = stage.attribute(transcripts)
    for transcript in transcripts:
        stage.publish(transcript)
    write_jsonl(ctx.out_dir / "transcripts.jsonl", transcripts)


class Transcription:
    def __init__(self, ctx: StageContext, cfg: TranscribeConfig, whisper: FasterWhisperTranscriber,
                 captions: YouTubeCaptions, diarizer: Diarizer | None = None):
        self.ctx, self.cfg = ctx, cfg
        self.whisper, self.captions, self.diarizer = whisper, captions, diarizer
        self._voices: dict[str, Diarization] = {}  # per transcribed video, when its audio could be had
        self._metrics: dict[str, dict] = {}  # per video, written once the creator is decided
        self._errors: dict[str, tuple[str | None, bool]] = {}  # per given-up video: (error, retryable)
        # YouTube refusing caption (or on-demand audio) requests N times in a row: stop asking it
        # (a download stage older than its fetch settings: no breaker)
        self.breaker = CircuitBreaker(captions.pacing.breaker_after if captions.pacing else 0)
        self.unasked: list[str] = []  # videos left without a transcript because the breaker was open
        self._replaced: dict[str, tuple[Path, str]] = {}  # per video whose media was damaged: the copy fetched again

    def one(self, video: Video) -> Transcript:
        started = time.monotonic()
        order = [self.cfg.prefer, "whisper" if self.cfg.prefer == "captions" else "captions"]
        problems: list[Unusable] = []
        for backend in order:
            try:
                raw, cached = self._captions(video) if backend == "captions" else self._whisper(video)
            except Unusable as why:
                problems.append(why)
                self.ctx.log.debug("%s: %s: %s (%s)", video.id, backend, why.reason, why)
                continue
            transcript = self._finish(video, raw, cached, time.monotonic() - started)
            self._diarize(video, transcript)
            return transcript
        asked = [p for p in problems if p.status == "failed" and p.reason != "not_attempted"]
        if not asked and any(p.reason == "not_attempted" for p in problems):
            self.unasked.append(video.id)
        return self._give_up(video, problems)

    def check_breaker(self, transcripts: list[Transcript]) -> None:
        """Fail with the breaker's one message when it left videos without a transcript (finished ones are
        cached; the next run asks only for the rest); when whisper covered them all, say so and go on."""
        if not self.breaker.open:
            return
        if self.unasked:
            kept = sum(t.status in ("success", "cached") for t in transcripts)
            source = self.ctx.config.input
            raise StageError(self.breaker.message("transcribe", "video(s)", len(self.unasked), kept,
                                                  bool(source.cookies_env), bool(source.proxy_env)))
        self.ctx.log.warning("YouTube refused %d caption request(s) in a row; the videos after them were not asked "
                             "for captions and were transcribed by whisper from their media",
                             len(self.breaker.streak))

    # --- speakers ------------------------------------------------------------------------------
    def _diarize(self, video: Video, transcript: Transcript) -> None:
        """The video's voices, when speakers are attributed and its audio can be had: whisper's, the downloaded
        media of a captioned video, or (speakers: on) a captioned video's audio fetched on demand."""
        if self.diarizer is None or not transcript.segments:
            return
        if transcript.source != "whisper" and not video.media_path and self.cfg.speakers == "auto":
            # captions of a video download kept no audio of: `auto` fetches none for them, `on` does
            self.ctx.counts["speakers_unknown_no_audio"] += 1
            return
        try:
            media, sha256 = self._media(video)
        except Unusable as why:
            self.ctx.log.info("%s: speakers unknown, no audio (%s)", video.id, why.reason)
            self.ctx.counts["speakers_unknown_no_audio"] += 1
            return
        found, cached = self.diarizer.diarize(media, sha256, transcript.segments)
        self._voices[video.id] = found
        self._metrics[video.id].update(voices=found.voices, speakers_cached=cached)

    def attribute(self, transcripts: list[Transcript]) -> list[Transcript]:
        """Each transcript's segments labelled with their voice and whether it is the creator's; a video whose
        creator's voice cannot be told apart is skipped (`creator_unknown`), never guessed."""
        if self.diarizer is None or not self._voices:
            return transcripts
        d = self.cfg.diarization
        reference = self.cfg.creator_voice_file is not None
        if reference:
            voiceprint, undecided = self.diarizer.reference(self.cfg.creator_voice_file.expanduser()), None
        else:
            voiceprint, undecided = channel_voice(list(self._voices.values()), d.same_voice)
        out = []
        for t in transcripts:
            voices = self._voices.get(t.id)
            if voices is None or voices.voices == 0:  # no audio, or no speech window long enough to embed
                out.append(t)
                continue
            creator, similarity = creator_of(voices, voiceprint, self.cfg.speakers, d.creator_similarity,
                                             d.creator_margin, reference)
            update = {"speakers": voices.voices, "creator_similarity": similarity,
                      "segments": attribute(t.segments, voices, creator)}
            if creator is None:
                why = self._unknown(voices, similarity, undecided, reference)
                update.update(status="skipped", reason="creator_unknown", error=why)
            out.append(t.model_copy(update=update))
            self._metrics[t.id].update(creator_similarity=similarity)
        skipped = sum(t.reason == "creator_unknown" for t in out)
        if undecided and skipped:
            self.ctx.log.warning("speakers: the channel does not tell which voice is the creator's (%s); %d video(s) "
                                 "skipped as creator_unknown; give transcribe.creator_voice_file", undecided, skipped)
        if self.diarizer.seconds:
            self.ctx.log.info("speakers: %d video(s) diarized in %.1f s", len(self._voices), self.diarizer.seconds)
        return out

    def _unknown(self, voices: Diarization, similarity: float | None, undecided: str | None, reference: bool) -> str:
        """Why a video's creator is unknown, in one line with its remedy."""
        clip = "give transcribe.creator_voice_file (a clip of the creator speaking alone)"
        if undecided:
            return f"which of its {voices.voices} voice(s) is the creator's cannot be told: {undecided}; {clip}"
        d = self.cfg.diarization
        against, remedy = (("the transcribe.creator_voice_file clip", "check that the clip is the creator alone")
                           if reference else ("the channel's voiceprint", clip))
        return (f"none of its {voices.voices} voice(s) is clearly the creator's (similarity to {against}: "
                f"{similarity}; transcribe.diarization.creator_similarity {d.creator_similarity}, creator_margin "
                f"{d.creator_margin}); {remedy}")

    def publish(self, t: Transcript) -> None:
        if t.source is not None:  # transcribed (a skip for silence or creator_unknown included)
            self._write(t)
        error, retryable = self._errors.get(t.id, (t.error, False))
        self.ctx.record(t.id, t.status, t.reason, error, retryable=retryable)
        metric = self._metrics.get(t.id, {})
        self.ctx.metric(**{**metric, "status": t.status, **({"reason": t.reason} if t.reason else {})})

    # --- backends, through the cache ---------------------------------------------------------
    def _captions(self, video: Video) -> tuple[RawTranscript, bool]:
        if (video.extractor or "").lower() != "youtube":
            raise Unusable("not_youtube", "captions come from YouTube only")
        youtube_id = (video.archive_id or f"youtube {video.id}").split(" ", 1)[1]
        key = Cache.key("captions", youtube_id, self.captions.settings())
        return self._cached(CAPTIONS, key, lambda: self._ask_captions(youtube_id))

    def _ask_captions(self, youtube_id: str) -> RawTranscript:
        """One caption request to YouTube, unless the breaker is open; its answer is noted by the breaker."""
        if self.breaker.open:
            raise Unusable("not_attempted", "not asked: YouTube refused the requests before it (circuit breaker)",
                           status="failed", retryable=True)
        try:
            raw = self.captions.transcribe(youtube_id)
        except Unusable as why:
            self.breaker.note(why.reason)
            raise
        self.breaker.note(None)
        return raw

    def _whisper(self, video: Video) -> tuple[RawTranscript, bool]:
        media, sha256 = self._media(video)
        prompt = self._prompt(video)
        damaged = self.ctx.cache.get(REFETCHED, self._refetch_key(video, sha256))
        if damaged is not None and not self.ctx.retry_failed:
            raise Unusable(**damaged["unusable"])
        try:
            return self._whisper_file(media, sha256, prompt)
        except Unusable as why:
            if why.reason != "corrupt_media":
                raise
            first = why
        fresh, fresh_sha256 = self._fetch_again(video, sha256, first)
        try:
            found = self._whisper_file(fresh, fresh_sha256, prompt)
        except Unusable as why:
            if why.reason != "corrupt_media":
                raise
            raise self._damaged_for_good(video, {sha256, fresh_sha256}, f"{first}; fetched again: {why}") from None
        self.ctx.log.info("%s: its media did not decode; the copy fetched again did", video.id)
        self._replaced[video.id] = (fresh, fresh_sha256)
        return found

    def _whisper_file(self, media: Path, sha256: str, prompt: str | None) -> tuple[RawTranscript, bool]:
        key = Cache.key("whisper", sha256, self.whisper.settings(), prompt)
        return self._cached(WHISPER, key, lambda: self.whisper.transcribe(media, prompt))

    def _fetch_again(self, video: Video, sha256: str, why: Unusable) -> tuple[Path, str]:
        """A damaged video's media, fetched once more; the same bytes again are damaged for good."""
        source = self.ctx.config.input
        try:
            fresh, fresh_sha256 = fetch_again(video, sha256, self._fetch_settings(), self.ctx.cache, self.ctx.log,
                                              source.cookies_file(), source.proxy(), self.breaker)
        except NotAsked as exc:
            raise Unusable("not_attempted", str(exc), status="failed", retryable=True) from None
        except SourceError as exc:
            raise Unusable("corrupt_media", f"{why}; fetching it again failed ({exc}); the next run tries again",
                           status="failed", retryable=True) from None
        if fresh_sha256 == sha256:
            raise self._damaged_for_good(video, {sha256}, f"{why}; fetched again: the same bytes")
        return fresh, fresh_sha256

    def _damaged_for_good(self, video: Video, sha256s: set[str], detail: str) -> Unusable:
        """A permanent corrupt_media failure, remembered for each copy's bytes: no later run fetches it again."""
        why = {"reason": "corrupt_media", "status": "failed",
               "message": f"{detail}: the source's file is damaged; --retry-failed fetches it once more"}
        for sha256 in sha256s:
            self.ctx.cache.put(REFETCHED, self._refetch_key(video, sha256), {"unusable": why})
        return Unusable(**why)

    @staticmethod
    def _refetch_key(video: Video, sha256: str) -> str:
        return Cache.key("refetched", video.archive_id or video.url, sha256)

    def _cached(self, namespace: str, key: str, compute) -> tuple[RawTranscript, bool]:
        """A backend result from the cache, or computed and stored; deterministic refusals are cached too."""
        hit = self.ctx.cache.get(namespace, key)
        if hit is not None and "unusable" in hit and self.ctx.retry_failed:
            hit = None  # --retry-failed asks again (captions may have been added since)
        if hit is not None:
            if "unusable" in hit:
                raise Unusable(**hit["unusable"])
            raw = hit["raw"]
            raw["segments"] = [Segment.model_validate(s) for s in raw["segments"]]
            return RawTranscript(**raw), True
        try:
            raw = compute()
        except Unusable as why:
            if not why.retryable:
                self.ctx.cache.put(namespace, key, {"unusable": {"reason": why.reason, "message": str(why),
                                                                 "status": why.status}})
            raise
        stored = asdict(raw)
        stored["segments"] = [s.model_dump() for s in raw.segments]
        self.ctx.cache.put(namespace, key, {"raw": stored})
        return raw, False

    def _media(self, video: Video) -> tuple[Path, str]:
        if video.id in self._replaced:
            return self._replaced[video.id]
        if video.media_path:
            path = self.ctx.run.root / video.media_path
            if not path.is_file():
                raise Unusable("missing_media", f"{video.media_path} is missing; re-run the download stage "
                               "(make download FORCE=1)", status="failed", retryable=True)
            return path, video.media_sha256
        source = self.ctx.config.input
        try:
            return fetch_audio(video, self._fetch_settings(), self.ctx.cache, self.ctx.log, source.cookies_file(),
                               source.proxy(), self.breaker)
        except NotAsked as exc:
            raise Unusable("not_attempted", str(exc), status="failed", retryable=True) from None
        except SourceError as exc:
            raise Unusable("no_audio_source", f"audio could not be fetched: {exc}", status="failed",
                           retryable=True) from None

    def _fetch_settings(self) -> FetchSettings:
        """How download fetched media (read once by run(), for the captions' pacing too); a download stage too old
        to have written them is a clear error here, where media must be fetched."""
        return self.captions.pacing or FetchSettings.read(self.ctx.upstream["download"].dir)

    def _prompt(self, video: Video) -> str | None:
        parts = [self.cfg.whisper.initial_prompt]
        if self.cfg.whisper.prompt_with_title:
            parts += [video.channel, video.title]
        text = ". ".join(p.strip() for p in parts if p and p.strip())
        return text or None

    # --- records -------------------------------------------------------------------------------
    def _finish(self, video: Video, raw: RawTranscript, cached: bool, seconds: float) -> Transcript:
        segments, dropped = apply_guard(raw.segments, self.cfg.guard)
        for reason, count in dropped.items():
            self.ctx.counts[f"dropped_segments_{reason}"] += count
        status, reason = ("cached" if cached else "success"), None
        if not segments:
            status, reason = "skipped", "no_speech"  # silence: an empty transcript, never invented text
        transcript = Transcript(
            id=video.id, title=video.title, channel=video.channel, status=status, reason=reason,
            source=raw.source, language=raw.language, model=raw.model, settings=raw.settings,
            duration=raw.duration or video.duration, segments=segments, dropped=dict(dropped),
            text_path=f"stages/transcribe/{video.id}.txt",
        )
        words = len(segmentation.words(transcript.text))
        self._metrics[video.id] = dict(
            id=video.id, source=raw.source, status=status, segments=len(segments), chars=len(transcript.text),
            words=words, duration=transcript.duration, seconds=round(seconds, 3), transcribe_seconds=raw.seconds,
            real_time_factor=round(raw.seconds / raw.duration, 4) if raw.duration else None,
            dropped_segments=sum(dropped.values()), cached=cached)
        return transcript

    def _give_up(self, video: Video, problems: list[Unusable]) -> Transcript:
        problems = [p for p in problems if p.reason != "not_youtube"] or problems  # not news for a non-YouTube video
        failed = [p for p in problems if p.status == "failed"]
        last = (failed or problems)[-1]
        error = "; ".join(f"{p.reason}: {p}" for p in problems)
        status = "failed" if failed else "skipped"
        if failed:
            self.ctx.log.warning("%s: %s", video.id, error)
        self._errors[video.id] = (error, any(p.retryable for p in failed))
        self._metrics[video.id] = {"id": video.id}
        return Transcript(id=video.id, title=video.title, channel=video.channel, status=status,
                          reason=last.reason, error=error)

    def _write(self, transcript: Transcript) -> None:
        out = self.ctx.out_dir
        write_text_atomic(out / f"{transcript.id}.json", transcript.model_dump_json(indent=1))
        write_text_atomic(out / f"{transcript.id}.txt", transcript.text + "\n")
