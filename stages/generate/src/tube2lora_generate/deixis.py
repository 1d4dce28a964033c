"""Video deixis (pure): sentences that talk about the video rather than the subject ("in this video", "link in
the description", "smash that like button"). A passage dominated by them answers no viewer's question."""

from __future__ import annotations

import re

from tube2lora_shared.segmentation import sentences, words

PHRASES = (
    r"in (this|today'?s|the (last|next|previous)) (video|episode|vlog)",
    r"(this|today'?s) (video|episode) is",
    r"(links?|details) (is |are )?(in|down in) the description",
    r"in the (description|comments?)",
    r"(down )?below (in the|this) (video|description|comments?)",
    r"down below",
    r"comments? (section )?below",
    r"(smash|hit|tap|leave) (that|the|a) like",
    r"like button",
    r"thumbs up",
    r"subscrib(e|ed|ing)",
    r"(bell|notification) (icon|button)",
    r"turn on notifications",
    r"my (channel|patreon|merch)",
    r"this channel",
    r"patreon",
    r"(sponsor(ed)?|brought to you) by",
    r"today'?s sponsor",
    r"thanks? (you )?for watching",
    r"(see|catch) you (in the|next) (next )?(video|episode|time|week)",
    r"welcome back to (the|my) channel",
    r"(check|click) (out )?(the|that|this) (link|card|video) (up )?(above|here|on screen)",
    r"on (the )?screen (now|here|right now)",
    r"end screen",
)
_DEIXIS = re.compile(r"\b(" + "|".join(PHRASES) + r")\b", re.I)


def about_the_video(sentence: str) -> bool:
    return _DEIXIS.search(sentence.replace("’", "'")) is not None


def deixis_share(text: str) -> float:
    """Share of the text's words that are in sentences about the video itself."""
    parts = sentences(text)
    total = sum(len(words(s)) for s in parts)
    return sum(len(words(s)) for s in parts if about_the_video(s)) / total if total else 0.0
