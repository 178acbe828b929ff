"""A server of the project's own, started by a test: a free port on 127.0.0.1, and the wait
until it answers (a process that ends first fails the test with what it wrote)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from typing import Any, Callable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for the server about to start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_answers(url: str, proc: subprocess.Popen[Any], *, seconds: float,
                       output: Callable[[], str] = lambda: "") -> None:
    """Wait until a GET of ``url`` answers 2xx or 3xx. ``proc`` ending first, or ``seconds``
    passing, fails the test; ``output`` gives what the server wrote, for the message."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server ended before {url} answered: {output()}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {seconds:.0f} s: {output()}")
