"""Language allowlists: `en` accepts `en`, `en-GB`, `en-US`; an empty allowlist accepts everything."""

from __future__ import annotations

from collections.abc import Iterable


def primary(code: str) -> str:
    return code.replace("_", "-").split("-", 1)[0].lower()


def allowed(code: str | None, allowlist: Iterable[str]) -> bool:
    allow = [primary(a) for a in allowlist]
    return not allow or (code is not None and primary(code) in allow)


def first_allowed(codes: Iterable[str], allowlist: Iterable[str]) -> str | None:
    """The first code that matches the allowlist, in the allowlist's order of preference."""
    codes = list(codes)
    for wanted in allowlist:
        for code in codes:
            if primary(code) == primary(wanted):
                return code
    return codes[0] if codes and not list(allowlist) else None
