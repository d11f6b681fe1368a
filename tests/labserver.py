"""A JupyterLab server for tests: a free port on 127.0.0.1, `make lab` run as a learner runs it, and stopping it.

Used by tests/test_lab_url.py (the printed URL over HTTP) and tests/browser/ (the same URL, and the lessons, in
Chromium). The server's output goes to a file, never a pipe nobody reads (a full pipe would stop the server).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The URL `make lab` prints for 127.0.0.1 (it also prints one for localhost).
PRINTED = re.compile(r"(http://127\.0\.0\.1:\d+/\S+)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started with ``start_new_session=True``: its whole process group, SIGKILL after 30 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def wait_until_accepting(url: str, proc: subprocess.Popen, deadline: float) -> None:
    """Wait until the server at ``url`` accepts connections: Jupyter Server prints its URL a moment before."""
    parts = urllib.parse.urlsplit(url)
    while True:
        try:
            socket.create_connection((parts.hostname, parts.port), timeout=2).close()
            return
        except ConnectionRefusedError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def make_lab(checkout: Path, log: Path, **env: str) -> Iterator[str]:
    """Run ``make lab`` in ``checkout`` with no screen, on a free port; yield the URL it prints once the server
    accepts connections; stop the server. ``env`` is added to the environment (without DISPLAY and pytest's)."""
    environ = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY") and not k.startswith("PYTEST")
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"PORT={free_port()}"],
            cwd=checkout,
            env={**environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            url, deadline = None, time.monotonic() + 120
            while url is None and time.monotonic() < deadline and proc.poll() is None:
                found = PRINTED.search(log.read_text(encoding="utf-8", errors="replace"))
                url = found.group(1) if found else None
                time.sleep(0.2)
            assert url, "make lab printed no http://127.0.0.1 URL:\n" + log.read_text(errors="replace")[-3000:]
            wait_until_accepting(url, proc, deadline)
            yield url
        finally:
            stop(proc)
