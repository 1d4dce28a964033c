"""Serve the local things a recipe points at while a command runs (used by the Makefile).

    python tests/serve.py [--channel-port 8765] [--fake-llm-port 8766] [--llama-url-env NAME] -- COMMAND ...

--channel-port: the sample channel (tests/fixtures/sample_channel/server.py).
--fake-llm-port: the deterministic fake OpenAI-compatible server (tests/fakes/openai_server.py), which
  only strips fillers and doubled words (configs/sample.yaml).
--llama-url-env NAME: llama.cpp's server with SmolLM2-135M-Instruct (tests/fixtures/llama_server.py) on
  a free loopback port, its URL exported to the command as $NAME (configs/demo.yaml reads it through
  llm.base_url_env). A server that $NAME already points at is reused.
A port already serving the same thing is reused. Everything started here stops when the command
ends, fails or is interrupted (Ctrl-C, SIGTERM). Exits with the command's status.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from urllib.request import urlopen

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "fixtures" / "sample_channel"))
sys.path.insert(0, str(HERE))

from fakes.openai_server import FakeOpenAI  # noqa: E402
from fixtures.llama_server import LlamaCppServer, LlamaServerError, serves  # noqa: E402
from server import SampleChannelServer  # noqa: E402


def _answers(url: str, marker: bytes) -> bool:
    try:
        with urlopen(url, timeout=2) as answer:
            return marker in answer.read(500)
    except OSError:
        return False


def _stop_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channel-port", type=int)
    parser.add_argument("--fake-llm-port", type=int)
    parser.add_argument("--llama-url-env", metavar="NAME")
    parser.add_argument("--llama-log", type=Path, help="append llama.cpp's server log here")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with ExitStack() as stack:
        fixed = [(args.channel_port, "/feed.xml", b"<rss", SampleChannelServer, "the sample channel"),
                 (args.fake_llm_port, "/v1/models", b"fake-model", lambda port: FakeOpenAI(port=port), "the fake LLM")]
        for port, path, marker, server, what in fixed:
            if port and not _answers(f"http://127.0.0.1:{port}{path}", marker):
                try:
                    stack.enter_context(server(port))
                except OSError as exc:
                    print(f"error: cannot serve {what} on 127.0.0.1:{port} ({exc.strerror}); the recipe names "
                          "that port: stop whatever holds it", file=sys.stderr)
                    return 2
        env = dict(os.environ)
        if args.llama_url_env and not serves(env.get(args.llama_url_env, "")):
            if args.llama_log:
                args.llama_log.parent.mkdir(parents=True, exist_ok=True)
            try:
                server = stack.enter_context(LlamaCppServer(log_file=args.llama_log))
            except LlamaServerError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(f"llama.cpp server (SmolLM2-135M-Instruct) at {server.base_url}", file=sys.stderr)
            env[args.llama_url_env] = server.base_url
        return subprocess.call(command, env=env) if command else 0


if __name__ == "__main__":
    sys.exit(main())
