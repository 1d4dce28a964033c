"""The JavaScript runtime yt-dlp solves YouTube's challenges with (signatures and the `n` parameter; without
one, YouTube offers no usable formats): the deno binary of the locked `deno` package, running the solver
scripts of the locked `yt-dlp-ejs` package (yt-dlp finds those by import)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import metadata

from yt_dlp.utils._jsruntime import DenoJsRuntime

NO_RUNTIME_HINT = ("no JavaScript runtime for YouTube's challenges: YouTube offers no formats without one; "
                   "`make sync` installs the locked deno and yt-dlp-ejs packages")


@dataclass(frozen=True)
class JsRuntime:
    name: str
    path: str
    version: str

    def params(self) -> dict[str, dict[str, str]]:
        """yt-dlp's `js_runtimes` parameter for this runtime (only this one: no search on PATH)."""
        return {self.name: {"path": self.path}}

    def describe(self) -> str:
        """What fetch_settings.json and the log record: no path, so a container's run matches a local one."""
        return f"{self.name} {self.version} with yt-dlp-ejs {_version('yt-dlp-ejs')}"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


@functools.cache
def js_runtime() -> JsRuntime | None:
    """The deno binary, when it is installed and runs on this machine (yt-dlp's own check: `deno --version`);
    None otherwise, or when the solver scripts are missing."""
    try:
        from deno import find_deno_bin

        path = find_deno_bin()
    except (ImportError, FileNotFoundError):
        return None
    info = DenoJsRuntime(path).info
    if info is None or not info.supported or _version("yt-dlp-ejs") == "not installed":
        return None
    return JsRuntime("deno", info.path, info.version)
