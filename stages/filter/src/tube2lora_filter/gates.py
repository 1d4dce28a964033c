"""The per-video gates (pure): the first failed gate names the drop reason."""

from __future__ import annotations

from tube2lora_shared.languages import allowed
from tube2lora_shared.records import Profile

from .config import FilterConfig


def failed_gate(p: Profile, cfg: FilterConfig, languages: list[str]) -> tuple[str, str] | None:
    """(reason, detail) for the first gate the profile fails, or None when it passes them all."""
    if cfg.language and languages:
        for code, what in ((p.transcript_language, "transcript"), (p.language, "identified")):
            if code is not None and not allowed(code, languages):
                return "language", f"{what} language {code!r} is not in input.languages {languages}"
        if cfg.min_language_probability is not None and p.language_probability < cfg.min_language_probability:
            return "language", (f"language identification is unsure ({p.language} p={p.language_probability:.2f} "
                                f"< {cfg.min_language_probability})")
    checks = [
        ("too_short", p.words, cfg.min_words, "words"),
        ("too_short", p.tokens_target, cfg.min_tokens, "tokens"),
        ("low_quality", p.quality, cfg.min_quality, "quality"),
        ("low_confidence", p.mean_avg_logprob, cfg.min_mean_logprob, "mean whisper avg_logprob"),
        ("low_confidence", p.words_per_minute, cfg.min_words_per_minute, "words per minute of audio"),
        ("normalize_drift", p.normalize_similarity, cfg.min_normalize_similarity, "normalize similarity"),
        ("normalize_drift", p.normalize_words_ratio, cfg.min_normalize_ratio, "normalize words ratio"),
    ]
    for reason, value, minimum, what in checks:
        if minimum is not None and value is not None and value < minimum:
            return reason, f"{what} {value:g} < {minimum:g}"
    if (cfg.max_normalize_ratio is not None and p.normalize_words_ratio is not None
            and p.normalize_words_ratio > cfg.max_normalize_ratio):
        return "normalize_drift", f"normalize words ratio {p.normalize_words_ratio:g} > {cfg.max_normalize_ratio:g}"
    return None
