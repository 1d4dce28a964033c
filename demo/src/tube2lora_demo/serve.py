"""tube2lora-demo: serve what a recipe points at (the sample channel, the fake LLM, llama.cpp + SmolLM2).

    tube2lora-demo serve --config FILE [--llm] [--llama-log PATH] -- COMMAND ...
    tube2lora-demo plan --config FILE            what `serve` would start: channel, fake-llm, llama (or nothing)
    tube2lora-demo check-llm-server              smoke-test .tools/llm-server with one real completion
    tube2lora-demo sample-channel [--port 8765]  serve the sample channel until Ctrl-C
    tube2lora-demo render [--out DIR]            render the sample channel's speech (espeak-ng + ffmpeg)

`serve` reads the validated recipe (tube2lora_demo.plan) and serves, while COMMAND runs: the sample channel
when an input URL is on 127.0.0.1:8765; with --llm (COMMAND calls an LLM) the fake LLM when llm.base_url is
127.0.0.1:8766, or llama.cpp's server with SmolLM2 on a free loopback port when the recipe reads its endpoint
from llm.base_url_env (its URL is exported to COMMAND in that variable; a server it already points at is
reused). llama.cpp's log goes to <run>/logs/llm-server.log unless --llama-log says where; while COMMAND runs,
the server is watched and its death written to the file $TUBE2LORA_LLM_SERVER_STATUS names
(tube2lora_demo.server_watch). A port already serving the same thing is reused. Everything started here stops
when COMMAND ends, fails or is interrupted (Ctrl-C, SIGTERM). Exits with COMMAND's status; 2 for bad usage.
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

from tube2lora_shared.config import Config, load_config
from tube2lora_shared.errors import UsageError
from tube2lora_shared.rundir import RunDir

from .fake_llm import FakeOpenAI
from .llama_server import REPO, WHAT, LlamaCppServer, LlamaServerError, check_llm_server, describe_death
from .plan import FAKE_LLM_PORT, SAMPLE_PORT, Plan, plan
from .sample_channel import render
from .sample_channel import server as channel
from .sample_channel.server import SampleChannelServer
from .server_watch import STATUS_ENV, STATUS_NAME, ServerWatch

SMOKE_LOG = REPO / ".tools" / "llm-server" / "smoke.log"


def _answers(url: str, marker: bytes) -> bool:
    try:
        with urlopen(url, timeout=2) as answer:
            return marker in answer.read(500)
    except OSError:
        return False


def _stop_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def serve(config_file: Path, command: list[str], llm: bool = False, llama_log: Path | None = None,
          sample_port: int = SAMPLE_PORT, fake_llm_port: int = FAKE_LLM_PORT) -> int:
    needs = plan(config := load_config(config_file), sample_port=sample_port, fake_llm_port=fake_llm_port)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        return _serve(config, needs, command, llm, llama_log)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve(config: Config, needs: Plan, command: list[str], llm: bool, llama_log: Path | None) -> int:
    with ExitStack() as stack:
        fixed = [(needs.channel_port, "/feed.xml", b"<rss", SampleChannelServer, "the sample channel")]
        if llm:
            fixed.append((needs.fake_llm_port, "/v1/models", b"fake-model", lambda port: FakeOpenAI(port=port),
                          "the fake LLM"))
        for port, path, marker, start, what in fixed:
            if port and not _answers(f"http://127.0.0.1:{port}{path}", marker):
                try:
                    stack.enter_context(start(port))
                except OSError as exc:
                    print(f"error: cannot serve {what} on 127.0.0.1:{port} ({exc.strerror}); the recipe names "
                          "that port: stop whatever holds it", file=sys.stderr)
                    return 2
        env = dict(os.environ)
        if not (llm and needs.llama_url_env):
            return subprocess.call(command, env=env) if command else 0
        log = (llama_log or RunDir.for_config(config).root / "logs" / "llm-server.log").resolve()
        try:
            server = stack.enter_context(LlamaCppServer(log_file=log))
        except LlamaServerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{WHAT} at {server.base_url}", file=sys.stderr)
        status = log.with_name(STATUS_NAME)
        env[needs.llama_url_env], env[STATUS_ENV] = server.base_url, str(status)
        with ServerWatch(server.died, status) as watch:
            code = subprocess.call(command, env=env) if command else 0
        if watch.death:
            print("error: " + describe_death(watch.death, "while the command ran", "every request after that failed"),
                  file=sys.stderr)
            return code or 1
        return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tube2lora-demo", description=__doc__.splitlines()[0].split(": ", 1)[1])
    commands = parser.add_subparsers(dest="what", required=True)
    serving = commands.add_parser("serve", help="serve what the recipe points at while COMMAND runs")
    serving.add_argument("--config", type=Path, required=True)
    serving.add_argument("--llm", action="store_true", help="COMMAND calls an LLM: serve the recipe's LLM too")
    serving.add_argument("--llama-log", type=Path, help="append llama.cpp's server log here")
    planning = commands.add_parser("plan", help="print what `serve` would start for the recipe, one per line")
    for sub in serving, planning:
        sub.add_argument("--sample-port", type=int, default=SAMPLE_PORT, help="where recipes find the sample channel")
        sub.add_argument("--fake-llm-port", type=int, default=FAKE_LLM_PORT, help="where recipes find the fake LLM")
    serving.add_argument("command", nargs=argparse.REMAINDER)
    planning.add_argument("--config", type=Path, required=True)
    checking = commands.add_parser("check-llm-server", help="smoke-test .tools/llm-server with one completion")
    checking.add_argument("--log", type=Path, default=SMOKE_LOG)
    channel_cli = commands.add_parser("sample-channel", help="serve the sample channel until Ctrl-C")
    channel_cli.add_argument("--port", type=int, default=channel.DEFAULT_PORT)
    rendering = commands.add_parser("render", help="render the sample channel's speech, cached")
    rendering.add_argument("--out", type=Path, default=render.DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        if args.what == "serve":
            command = args.command[1:] if args.command[:1] == ["--"] else args.command
            return serve(args.config, command, llm=args.llm, llama_log=args.llama_log, sample_port=args.sample_port,
                         fake_llm_port=args.fake_llm_port)
        if args.what == "plan":
            needs = plan(load_config(args.config), sample_port=args.sample_port, fake_llm_port=args.fake_llm_port)
            for word in needs.words():
                print(word)
            return 0
        if args.what == "check-llm-server":
            answer = check_llm_server(args.log.resolve())
            print(f"llm-server: llama.cpp answered a chat completion with SmolLM2 ({answer!r}); it works on this CPU")
            return 0
        if args.what == "sample-channel":
            return channel.main(args.port)
        return render.main(args.out)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LlamaServerError as exc:
        print(f"error: llm-server does not work on this machine: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
