"""The per-video gates (pure). Every gate is checked; the drop reason is the failed gate that explains the
others: a transcript in the wrong language, or one whisper was unsure of, is also short and of low quality
(an English-only model on Spanish speech writes 24 confident-looking English words), so `language` comes
first, then `low_confidence`, then the size, quality and normalize gates."""

from __future__ import annotations

from tube2lora_shared.languages import allowed, identifiable, identified_allowed
from tube2lora_shared.records import Profile

from .config import FilterConfig

ORDER = ("language", "low_confidence", "too_short", "low_quality", "normalize_drift")  # which failure is the reason


def failed_gates(p: Profile, cfg: FilterConfig, languages: list[str]) -> list[tuple[str, str]]:
    """(reason, detail) of every gate the profile fails, the reason to report first; empty when it passes."""
    failed: list[tuple[str, str]] = []
    if cfg.language and languages:
        if p.transcript_language is not None and not allowed(p.transcript_language, languages):
            failed.append(("language", f"transcript language {p.transcript_language!r} is not in input.languages "
                                       f"{languages}"))
        # identification can only check languages it knows (no Yiddish, Maori, Hawaiian...): else the transcript's
        # own language is all there is
        identified = all(identifiable(code) for code in languages)
        if identified and p.language is not None and not identified_allowed(p.language, languages):
            failed.append(("language", f"identified language {p.language!r} is not in input.languages {languages}"))
        if (identified and cfg.min_language_probability is not None
                and p.language_probability < cfg.min_language_probability):
            failed.append(("language", f"language identification is unsure ({p.language} "
                                       f"p={p.language_probability:.2f} < {cfg.min_language_probability})"))
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
            failed.append((reason, f"{what} {value:g} < {minimum:g}"))
    if (cfg.max_normalize_ratio is not None and p.normalize_words_ratio is not None
            and p.normalize_words_ratio > cfg.max_normalize_ratio):
        failed.append(("normalize_drift",
                       f"normalize words ratio {p.normalize_words_ratio:g} > {cfg.max_normalize_ratio:g}"))
    return sorted(failed, key=lambda f: ORDER.index(f[0]))  # stable: a gate's details keep their order


def failed_gate(p: Profile, cfg: FilterConfig, languages: list[str]) -> tuple[str, str] | None:
    """(reason, detail) of the gate that names the drop, or None when the profile passes them all."""
    failed = failed_gates(p, cfg, languages)
    return failed[0] if failed else None


def reasons(failed: list[tuple[str, str]]) -> list[str]:
    """Each failed gate's reason once, the drop reason first."""
    return list(dict.fromkeys(reason for reason, _ in failed))
