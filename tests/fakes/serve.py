"""Serve the offline stand-ins a recipe points at while a command runs (used by the Makefile).

    python tests/fakes/serve.py [--channel-port 8765] [--llm-port 8766] -- COMMAND ...

--channel-port: the sample channel (tests/fixtures/sample_channel/server.py).
--llm-port: the deterministic fake OpenAI-compatible server (tests/fakes/openai_server.py), a
stand-in until the demo's llama.cpp server; it only strips fillers and doubled words.
A port already serving the same thing is reused. Exits with the command's status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from urllib.request import urlopen

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "fixtures" / "sample_channel"))
sys.path.insert(0, str(HERE.parent))

from fakes.openai_server import FakeOpenAI  # noqa: E402
from server import SampleChannelServer  # noqa: E402


def _answers(url: str, marker: bytes) -> bool:
    try:
        with urlopen(url, timeout=2) as answer:
            return marker in answer.read(500)
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channel-port", type=int)
    parser.add_argument("--llm-port", type=int)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    with ExitStack() as stack:
        if args.channel_port and not _answers(f"http://127.0.0.1:{args.channel_port}/feed.xml", b"<rss"):
            stack.enter_context(SampleChannelServer(args.channel_port))
        if args.llm_port and not _answers(f"http://127.0.0.1:{args.llm_port}/v1/models", b"fake-model"):
            stack.enter_context(FakeOpenAI(port=args.llm_port))
        return subprocess.call(command) if command else 0


if __name__ == "__main__":
    sys.exit(main())
