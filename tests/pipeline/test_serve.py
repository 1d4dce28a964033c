"""tests/serve.py, the Makefile's wrapper that serves the sample channel and the LLM stand-ins."""

from __future__ import annotations

import socket
import subprocess
import sys

from harness import REPO


def test_a_port_held_by_something_else_is_one_clear_error():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run([sys.executable, str(REPO / "tests" / "serve.py"), "--channel-port", str(port), "--",
                                 sys.executable, "-c", "print('ran')"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "ran" not in result.stdout
    assert result.stderr.strip() == (f"error: cannot serve the sample channel on 127.0.0.1:{port} (Address already "
                                     "in use); the recipe names that port: stop whatever holds it")


def test_the_command_runs_with_the_servers_and_its_status_is_returned():
    code = "import sys, urllib.request as u; sys.exit(3 if b'fake-model' in u.urlopen('http://127.0.0.1:%d/v1/models').read() else 1)"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run([sys.executable, str(REPO / "tests" / "serve.py"), "--fake-llm-port", str(port), "--",
                             sys.executable, "-c", code % port], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
