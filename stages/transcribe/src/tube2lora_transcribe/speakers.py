"""Who speaks when, and which voice is the creator's (pure: numpy and scipy, no audio I/O).

A video's speech (the transcript's segment spans) is cut into short windows; their voice embeddings are
grouped by average-linkage clustering on cosine distance; a voice with too little speech joins the nearest
other voice. Each segment takes the voice it overlaps most. The creator is the voice heard in more of the
channel's videos than any other voice (guests come and go, the creator is in every video), or the voice nearest
a reference clip. Talking most decides nothing: when two voices are heard in equally many videos (co-hosts, or
a channel whose only voices are one interview's), the creator is not told apart and is not guessed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

Span = tuple[float, float]
FAR = 1e12  # a distance no average can bring under a threshold (scipy's linkage takes finite distances only)


@dataclass
class Diarization:
    """One video's voices: windows with the voice each belongs to, and per voice its mean embedding and speech
    seconds. Voices are numbered by speech time, most first (speaker "S1" is the one who talks most)."""

    windows: list[Span] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    centroids: list[list[float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def voices(self) -> int:
        return len(self.centroids)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Diarization":
        return cls(windows=[tuple(w) for w in data["windows"]], labels=data["labels"], centroids=data["centroids"],
                   seconds=data["seconds"])


def windows(spans: list[Span], length: float, min_length: float) -> list[Span]:
    """Each span cut into windows of `length` seconds; a remainder shorter than `min_length` joins the window
    before it (or is dropped when the whole span is that short)."""
    found: list[Span] = []
    for start, end in spans:
        at, own = start, []
        while end - at >= length:
            own.append((at, at + length))
            at += length
        if end - at >= min_length or (not own and end - at > 0.3):
            own.append((at, end))
        elif own and end > at:
            own[-1] = (own[-1][0], end)
        found += [(round(s, 3), round(e, 3)) for s, e in own]
    return found


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True).clip(1e-9)


def cluster(embeddings: np.ndarray, min_similarity: float, apart: list[int] | None = None) -> np.ndarray:
    """Labels 0..k-1: average-linkage groups whose mean cosine similarity stays at least `min_similarity`.
    Embeddings with the same `apart` id (the voices of one video, which diarization already told apart) never
    share a group: their distance is set far beyond any threshold."""
    if len(embeddings) < 2:
        return np.zeros(len(embeddings), dtype=int)
    distances = pdist(_unit(embeddings), metric="cosine")
    if apart is not None:
        distances[pdist(np.array(apart, dtype=float)[:, None]) == 0] = FAR
    return fcluster(linkage(distances, method="average"), t=1.0 - min_similarity, criterion="distance") - 1


def diarize(spans: list[Span], embeddings: np.ndarray, min_similarity: float, min_seconds: float) -> Diarization:
    """Windows and their embeddings -> voices; a voice heard for less than `min_seconds` (a stray window, a
    cough, a clip played in the video) joins the voice whose centroid is nearest."""
    if not spans:
        return Diarization()
    labels = cluster(embeddings, min_similarity)
    lengths = np.array([e - s for s, e in spans])
    while True:
        ids = np.unique(labels)
        seconds = np.array([lengths[labels == i].sum() for i in ids])
        small = ids[seconds < min_seconds]
        if len(ids) == 1 or len(small) == 0:
            break
        weakest = ids[np.argmin(seconds)]
        others = ids[ids != weakest]
        centroids = _unit(np.stack([embeddings[labels == i].mean(axis=0) for i in ids]))
        own = centroids[list(ids).index(weakest)]
        nearest = others[np.argmax([centroids[list(ids).index(o)] @ own for o in others])]
        labels = np.where(labels == weakest, nearest, labels)
    ids = np.unique(labels)
    order = sorted(ids, key=lambda i: -lengths[labels == i].sum())
    renumber = {old: new for new, old in enumerate(order)}
    labels = np.array([renumber[i] for i in labels])
    centroids = _unit(np.stack([embeddings[labels == i].mean(axis=0) for i in range(len(order))]))
    return Diarization(windows=list(spans), labels=[int(x) for x in labels],
                       centroids=[[round(float(v), 6) for v in c] for c in centroids],
                       seconds=[round(float(lengths[labels == i].sum()), 3) for i in range(len(order))])


def voice_of(span: Span, d: Diarization, reach: float = 1.0) -> int | None:
    """The voice whose windows overlap the span longest; a span too short for a window of its own takes the
    voice of the nearest window within `reach` seconds; None when there is none."""
    overlap: dict[int, float] = {}
    for (s, e), label in zip(d.windows, d.labels):
        shared = min(e, span[1]) - max(s, span[0])
        if shared > 0:
            overlap[label] = overlap.get(label, 0.0) + shared
    if overlap:
        return max(overlap, key=overlap.get)
    gaps = [(max(s - span[1], span[0] - e), label) for (s, e), label in zip(d.windows, d.labels)]
    nearest = min(gaps, default=None)
    return nearest[1] if nearest is not None and nearest[0] <= reach else None


def channel_voice(videos: list[Diarization], min_similarity: float) -> tuple[np.ndarray | None, str | None]:
    """(the creator's voiceprint from the channel alone, None) or (None, why it cannot be told). Every
    video's voices are pooled and grouped again (two voices of one video never in one group); the group heard in
    more videos than any other is the creator, its speech-weighted mean the voiceprint. A tie at the top is no
    answer: who talks most is no evidence."""
    rows = [(v, np.array(c), s) for v, d in enumerate(videos) for c, s in zip(d.centroids, d.seconds)]
    if not rows:
        return None, "no voice was found in the channel's videos"
    labels = cluster(np.stack([c for _, c, _ in rows]), min_similarity, apart=[v for v, _, _ in rows])
    heard = {int(g): len({v for (v, _, _), own in zip(rows, labels) if own == g}) for g in np.unique(labels)}
    most = max(heard.values())
    leaders = [g for g, n in heard.items() if n == most]
    if len(leaders) > 1:
        return None, (f"{len(leaders)} voices are each heard in {most} of the channel's "
                      f"{len({v for v, _, _ in rows})} video(s), none in more")
    members = [(c, s) for (_, c, s), g in zip(rows, labels) if g == leaders[0]]
    return _unit(sum(c * s for c, s in members)), None


def creator_voice(d: Diarization, voiceprint: np.ndarray, min_similarity: float, min_margin: float) -> tuple[int | None, float]:
    """(the voice nearest the voiceprint, its similarity); None when it is not near enough, or when another voice
    is almost as near (the creator cannot be told apart: better dropped than guessed)."""
    sims = _unit(np.array(d.centroids)) @ voiceprint
    best = int(np.argmax(sims))
    runner_up = max((float(s) for i, s in enumerate(sims) if i != best), default=-1.0)
    if sims[best] < min_similarity or sims[best] - runner_up < min_margin:
        return None, round(float(sims[best]), 4)
    return best, round(float(sims[best]), 4)


def creator_of(d: Diarization, voiceprint: np.ndarray | None, mode: str, min_similarity: float,
               min_margin: float, reference: bool = False) -> tuple[int | None, float | None]:
    """The creator's voice in a video: in `auto` a lone voice is the creator's, unless `reference` (the
    voiceprint comes from a clip of the creator: a solo video of someone else is not theirs); otherwise the
    voice nearest the voiceprint, or None (with the best similarity) when it cannot be told apart."""
    if d.voices == 0:
        return None, None
    if mode == "auto" and d.voices == 1 and not reference:
        return 0, None
    if voiceprint is None:
        return None, None
    return creator_voice(d, voiceprint, min_similarity, min_margin)


def attribute(segments: list, d: Diarization, creator: int | None) -> list:
    """Segments (tube2lora_shared Segment records) with `speaker` and `is_creator` set from the voices."""
    out = []
    for seg in segments:
        voice = voice_of((seg.start, seg.end), d)
        out.append(seg.model_copy(update={"speaker": None if voice is None else f"S{voice + 1}",
                                          "is_creator": None if voice is None or creator is None else voice == creator}))
    return out
