"""Speaker attribution's pure parts: windows, clustering, small voices merged, the creator's voice chosen."""

from __future__ import annotations

import numpy as np

from tube2lora_shared.records import Segment
from tube2lora_transcribe.speakers import Diarization, attribute, channel_voice, cluster, creator_of, diarize, windows


def test_clustering_separates_two_voices_and_merges_a_stray_window():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=256), rng.normal(size=256)
    spans = windows([(0, 10), (11, 21), (22, 24)], 2.0, 1.0)
    assert spans[:5] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)] and spans[-1] == (22, 24)
    emb = np.stack([a + 0.1 * rng.normal(size=256) for _ in range(5)]
                   + [b + 0.1 * rng.normal(size=256) for _ in range(5)] + [rng.normal(size=256)])
    assert len(set(cluster(emb, 0.7))) == 3
    d = diarize(spans, emb, 0.7, 5.0)  # the stray 2-s window is under 5 s of speech: it joins a voice
    assert d.voices == 2 and d.labels[:5] == [0] * 5 and d.labels[5:10] == [1] * 5


def two_voice(a, b, seconds=(60.0, 20.0)) -> Diarization:
    return Diarization(windows=[(0, 3), (3, 6)], labels=[0, 1], centroids=[list(a), list(b)], seconds=list(seconds))


def alone(voice) -> Diarization:
    return Diarization(windows=[(0, 3)], labels=[0], centroids=[list(voice)], seconds=[60.0])


def test_the_creator_is_the_voice_heard_across_videos_not_the_one_who_talks_most():
    rng = np.random.default_rng(1)
    creator, guests = rng.normal(size=64), [rng.normal(size=64) for _ in range(3)]
    unit = [v / np.linalg.norm(v) for v in (creator, *guests)]
    videos = [two_voice(unit[1 + i], unit[0], seconds=(80.0, 20.0)) for i in range(3)]  # guests talk most
    voiceprint, undecided = channel_voice(videos, 0.7)
    assert undecided is None and float(voiceprint @ unit[0]) > 0.99
    assert creator_of(videos[0], voiceprint, "auto", 0.75, 0.05)[0] == 1
    lone_guest = Diarization(windows=[(0, 3)], labels=[0], centroids=[list(unit[1])], seconds=[30.0])
    assert creator_of(lone_guest, voiceprint, "auto", 0.75, 0.05)[0] == 0  # auto: a lone voice is the creator
    assert creator_of(lone_guest, voiceprint, "on", 0.75, 0.05)[0] is None  # on: checked against the voiceprint
    twins = two_voice(unit[0], unit[0])
    assert creator_of(twins, voiceprint, "auto", 0.75, 0.05)[0] is None  # not told apart: never guessed


def test_talking_most_decides_nothing_a_tie_in_videos_is_no_creator():
    rng = np.random.default_rng(2)
    creator, host, other = (v / np.linalg.norm(v) for v in rng.normal(size=(3, 64)))
    solo = alone(creator)
    # One interview is the channel's only evidence: both voices are heard in 1 video; the creator talks most.
    voiceprint, undecided = channel_voice([two_voice(creator, host, seconds=(90.0, 20.0))], 0.7)
    assert voiceprint is None and undecided == "2 voices are each heard in 1 of the channel's 1 video(s), none in more"
    # Co-hosts heard in every video: the more talkative one is not the creator for that.
    cohosts = [two_voice(host, creator, seconds=(80.0, 30.0)), two_voice(host, creator, seconds=(70.0, 40.0))]
    assert channel_voice(cohosts, 0.7)[0] is None
    assert creator_of(cohosts[0], None, "auto", 0.75, 0.05) == (None, None)
    # A solo episode tells: the creator is heard in 2 videos, the host in 1 (he talks most in the interview).
    voiceprint, undecided = channel_voice([two_voice(host, creator, seconds=(90.0, 20.0)), solo], 0.7)
    assert undecided is None and float(voiceprint @ creator) > 0.99
    # ...and a third person's solo episode does not.
    assert channel_voice([two_voice(host, creator), alone(other)], 0.7)[0] is None


def test_a_reference_clip_checks_solo_videos_in_auto_too():
    rng = np.random.default_rng(3)
    creator, stranger = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 64)))
    assert creator_of(alone(stranger), creator, "auto", 0.75, 0.05) == (0, None)  # the channel's own voiceprint
    assert creator_of(alone(stranger), creator, "auto", 0.75, 0.05, reference=True)[0] is None
    assert creator_of(alone(creator), creator, "auto", 0.75, 0.05, reference=True) == (0, 1.0)


def test_segments_take_the_voice_they_overlap_most():
    d = Diarization(windows=[(0, 3), (3, 6), (6, 9)], labels=[0, 0, 1], centroids=[[1, 0], [0, 1]], seconds=[6, 3])
    segments = [Segment(start=0, end=5, text="a"), Segment(start=5, end=9, text="b"),
                Segment(start=9.3, end=9.5, text="ok"), Segment(start=20, end=21, text="c")]
    out = attribute(segments, d, creator=1)
    assert [(s.speaker, s.is_creator) for s in out] == [("S1", False), ("S2", True), ("S2", True), (None, None)]
