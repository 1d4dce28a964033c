"""What a recipe needs served, decided from its validated config (never from its text):

- the sample channel, when an input URL is on 127.0.0.1:<SAMPLE_PORT> (configs/sample.yaml, demo.yaml);
- the deterministic fake LLM, when llm.base_url is loopback on <FAKE_LLM_PORT> (configs/sample.yaml);
- llama.cpp's server with SmolLM2, when llm.base_url_env names the variable to export its URL in and
  llm.model is the alias it serves (configs/demo.yaml), unless that variable already points at a server
  listing the model.

A recipe for real use needs nothing, so the Makefile runs its stages unwrapped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from tube2lora_shared.config import Config

from .llama_server import MODEL_ALIAS, serves

SAMPLE_PORT = 8765
FAKE_LLM_PORT = 8766
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Plan:
    channel_port: int | None = None  # serve the sample channel here
    fake_llm_port: int | None = None  # serve the fake LLM here
    llama_url_env: str | None = None  # start llama.cpp + SmolLM2 and export its URL in this variable

    def words(self) -> list[str]:
        """What is served, as the Makefile reads it: `channel`, `fake-llm`, `llama` (the last two call an LLM)."""
        return [word for word, on in (("channel", self.channel_port), ("fake-llm", self.fake_llm_port),
                                      ("llama", self.llama_url_env)) if on]


def _on_loopback(url: str, port: int) -> bool:
    parts = urlsplit(url)
    try:
        return parts.hostname in LOOPBACK and parts.port == port
    except ValueError:  # a malformed port
        return False


def plan(config: Config, env: dict[str, str] | None = None,
         sample_port: int = SAMPLE_PORT, fake_llm_port: int = FAKE_LLM_PORT) -> Plan:
    env = os.environ if env is None else env
    llm = config.llm
    llama = (llm.base_url_env if llm.base_url_env and llm.model == MODEL_ALIAS
             and not serves(env.get(llm.base_url_env, "")) else None)
    return Plan(
        channel_port=sample_port if any(_on_loopback(u, sample_port) for u in config.input.source_urls()) else None,
        fake_llm_port=fake_llm_port if not llm.base_url_env and _on_loopback(llm.base_url, fake_llm_port) else None,
        llama_url_env=llama,
    )
