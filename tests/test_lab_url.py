"""`make lab` lands on the index: the URL it prints opens notebooks/00_index.ipynb, served from the repository
root, so the index's relative links (../docs/teachers.md) resolve. Runs the Makefile's own command on a free
port, with no screen (DISPLAY unset: the URL is printed, not opened), follows the printed URL over HTTP, and
stops the server. Slow (starts JupyterLab): `make ci`. The browser check (tests/browser) renders the pages."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRINTED = re.compile(r"(http://127\.0\.0\.1:\d+/\S+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_lab_prints_a_url_that_lands_on_the_index() -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY") and not k.startswith("PYTEST")
    }
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"PORT={_free_port()}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url, seen, deadline = None, [], time.monotonic() + 120
        assert proc.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            m = PRINTED.search(line)
            url = m.group(1) if m else None
        assert url, "make lab printed no http://127.0.0.1 URL:\n" + "".join(seen[-40:])
        parts = urllib.parse.urlsplit(url)
        assert parts.path.endswith("/lab/tree/notebooks/00_index.ipynb"), url
        token = urllib.parse.parse_qs(parts.query)["token"][0]
        # Jupyter Server prints its URLs a moment before the socket accepts connections: retry until it does.
        while True:
            try:
                with urllib.request.urlopen(url, timeout=30) as page:
                    assert page.status == 200
                break
            except urllib.error.URLError as error:
                if not isinstance(error.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        base = f"{parts.scheme}://{parts.netloc}"
        index = ROOT / "notebooks" / "00_index.ipynb"
        links = re.findall(r"\]\((\.\./[^)#\s]+)\)", json.dumps(json.loads(index.read_text(encoding="utf-8"))["cells"]))
        assert "../docs/teachers.md" in links
        for link in links:  # each relative link of the index, resolved as the browser resolves it
            served = os.path.normpath(os.path.join("notebooks", link))
            with urllib.request.urlopen(f"{base}/files/{served}?token={token}", timeout=30) as f:
                assert f.status == 200, served
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
