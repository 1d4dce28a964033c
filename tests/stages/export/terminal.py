"""A command in a pseudo-terminal (stdlib `pty`; pexpect is not a dependency): what a person at a terminal sees."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time


class Terminal:
    def __init__(self, argv: list[str], cwd=None, env=None):
        master, slave = pty.openpty()
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                        close_fds=True, start_new_session=True)
        os.close(slave)
        self.master, self.output, self.seen = master, "", 0

    def expect(self, text: str, timeout: float = 180) -> str:
        """Everything shown since the last expect, up to and including `text` (line ends as "\\n")."""
        deadline = time.monotonic() + timeout
        while text not in self.output[self.seen:]:
            ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"no {text!r} after {timeout} s; the terminal shows: {self.output[self.seen:][-3000:]!r}")
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the command ended and closed the terminal
                data = b""
            if not data:
                raise AssertionError(f"the command ended before {text!r}: {self.output[self.seen:][-3000:]!r}")
            self.output += data.decode("utf-8", errors="replace").replace("\r\n", "\n")
        end = self.output.index(text, self.seen) + len(text)
        shown, self.seen = self.output[self.seen:end], end
        return shown

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:  # drain, so the command never blocks on a full terminal
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if ready:
                    data = os.read(self.master, 65536)
                    if not data:
                        break
                    self.output += data.decode("utf-8", errors="replace").replace("\r\n", "\n")
                elif self.process.poll() is not None:
                    break
        except OSError:
            pass
        code = self.process.wait(timeout=max(1.0, deadline - time.monotonic()))
        os.close(self.master)
        return code


def ask_and_compare(terminal: Terminal, question: str, name: str, want_adapter: str, want_base: str) -> None:
    """One question, then /base and /quit: the adapter's answer under its name, the base's after /base, a clean exit."""
    terminal.send(question)
    assert f"{name}> {want_adapter}\n" in terminal.expect("you> ")
    terminal.send("/base")
    assert f"base> {want_base}\n" in terminal.expect("you> ")
    terminal.send("/quit")
    terminal.expect("bye")
    assert terminal.wait() == 0
