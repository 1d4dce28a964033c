"""What `tube2lora estimate` forecasts of transcribe: each video's words.

Finished: its transcripts. Before: speech all through each video at the forecast's words per second (2.5, about
150 words a minute, unless `--words-per-second` says otherwise), every word the creator's, said as an assumption.
"""

from __future__ import annotations

from tube2lora_shared.estimate import EstimateContext, speech
from tube2lora_shared.jsonl import read_jsonl
from tube2lora_shared.records import Transcript


def forecast(ectx: EstimateContext) -> None:
    finished = ectx.finished()
    if finished:
        found = [t for t in read_jsonl(finished / "transcripts.jsonl", Transcript) if t.status in ("success", "cached")]
        ectx.assume(f"{len(found)} transcript(s), {sum(len(t.creator_text.split()) for t in found):,} words "
                    "(transcripts.jsonl)")
        ectx.forecast.transcripts = found
        return
    videos = ectx.forecast.videos or []
    wps = ectx.forecast.words_per_second
    language = next(iter(ectx.config.input.languages), None)
    ectx.forecast.transcripts = [
        Transcript(id=v.id, title=v.title, channel=v.channel, status="success", language=language,
                   duration=v.duration, segments=speech(v.duration or 0.0, wps)) for v in videos]
    seconds = sum(v.duration or 0.0 for v in videos)
    ectx.assume(f"speech all through the videos at {wps:g} words a second ({seconds / 60:,.0f} min, about "
                f"{seconds * wps:,.0f} words), all the creator's")
