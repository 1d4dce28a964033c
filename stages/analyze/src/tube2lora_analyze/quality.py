"""The quality score (pure): in [0, 1], built only from rates and ratios, so a long video is never
punished for its length. Each factor is a ramp between a "bad" and a "good" value; the score is their
weighted mean."""

from __future__ import annotations


def ramp(value: float | None, bad: float, good: float, missing: float = 1.0) -> float:
    """0 at `bad`, 1 at `good` (either direction), linear between; `missing` when unknown."""
    if value is None:
        return missing
    t = (value - bad) / (good - bad)
    return max(0.0, min(1.0, t))


WEIGHTS = {"confidence": 0.3, "speech_rate": 0.2, "agreement": 0.2, "richness": 0.15, "readability": 0.15}


def factors(p: dict) -> dict[str, float]:
    """The quality factors from a profile's metrics (missing metrics count as neutral-good)."""
    source = p.get("source")
    confidence = (ramp(p.get("mean_avg_logprob"), -1.0, -0.3) if source == "whisper"
                  else 1.0 if source == "youtube_manual" else 0.8)
    reading = p.get("reading_ease")
    readability = 1.0 if reading is None else ramp(reading, -20, 30) if reading < 30 else ramp(reading, 130, 100)
    return {
        "confidence": round(confidence, 4),
        "speech_rate": round(ramp(p.get("words_per_minute"), 40, 110), 4),
        "agreement": round(ramp(p.get("normalize_similarity"), 0.4, 0.85), 4),
        "richness": round(ramp(p.get("mattr"), 0.35, 0.65), 4),
        "readability": round(readability, 4),
    }


def score(f: dict[str, float]) -> float:
    return round(sum(WEIGHTS[k] * v for k, v in f.items()) / sum(WEIGHTS.values()), 4)
