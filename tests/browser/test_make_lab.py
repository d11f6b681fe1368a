"""`make lab` as a learner meets it: the URL it prints, opened in Chromium, lands on the index, and the index's
link to the teachers' guide (``../docs/teachers.md``) opens it.

Runs the Makefile's own ``lab`` target in a copy of the checkout (notebooks/, docs/ and the files the target
reads; ``.venv`` is this checkout's, linked), with no screen (the URL is printed, not opened), follows the
printed ``http://127.0.0.1…`` URL in headless Chromium, and keeps a screenshot
(``artifacts/browser/make-lab-index.png``). ``tests/test_lab_url.py`` checks the same URL over HTTP in ``make ci``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_lab import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, playwright_sync  # noqa: E402  (the same browser set-up)

ROOT = Path(__file__).resolve().parents[2]
PRINTED = re.compile(r"(http://127\.0\.0\.1:\d+/\S+)")
#: What `make lab` reads besides .venv: the stamp's prerequisites and the folders it serves.
COPIED = [
    "Makefile",
    "requirements.txt",
    "requirements-dev.txt",
    "constraints.txt",
    "pyproject.toml",
    "notebooks",
    "docs",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def printed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    checkout = tmp_path_factory.mktemp("checkout")
    for name in COPIED:  # copy2 keeps the times, so the .venv stamp stays newer and make installs nothing
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, checkout / name)
        else:
            shutil.copy2(source, checkout / name)
    (checkout / ".venv").symlink_to(ROOT / ".venv")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["JUPYTERLAB_SETTINGS_DIR"] = str(checkout / "user-settings")
    log = (checkout / "lab.log").open("w+")
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"PORT={_free_port()}"],
        cwd=checkout,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url, deadline = None, time.monotonic() + 120
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            found = PRINTED.search((checkout / "lab.log").read_text(encoding="utf-8", errors="replace"))
            url = found.group(1) if found else None
            time.sleep(0.2)
        assert url, "make lab printed no http://127.0.0.1 URL:\n" + (checkout / "lab.log").read_text()[-3000:]
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_the_printed_url_opens_the_index_and_its_link_to_the_teachers_guide(printed_url: str) -> None:
    assert printed_url.split("?")[0].endswith("/lab/tree/notebooks/00_index.ipynb"), printed_url
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            deadline = time.monotonic() + 60
            while True:  # Jupyter Server prints its URL a moment before it accepts connections
                try:
                    page.goto(printed_url, wait_until="domcontentloaded")
                    break
                except playwright_sync.Error:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            page.wait_for_selector(".jp-NotebookPanel .jp-MarkdownOutput h1", timeout=120_000)
            tab = page.text_content(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
            assert tab == "00_index.ipynb"
            assert "目次" in (page.text_content(".jp-NotebookPanel .jp-MarkdownOutput h1") or "")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "make-lab-index.png"))
            # JupyterLab resolves the index's relative link ../docs/teachers.md against notebooks/: served from
            # the repository root it is /files/docs/teachers.md, which must exist (from notebooks/ it was a 404)
            link = page.wait_for_selector(".jp-NotebookPanel a[href*='/files/docs/teachers.md']", timeout=30_000)
            assert link is not None
            href = link.get_attribute("href") or ""
            assert page.request.get(href).status == 200, href
            link.click()  # JupyterLab opens a file of its own server in a tab of its own
            page.wait_for_function(
                """() => [...document.querySelectorAll('.lm-DockPanel-tabBar .lm-TabBar-tabLabel')]
                    .some(t => t.textContent === 'teachers.md')""",
                timeout=60_000,
            )
            assert not page.query_selector(".jp-Dialog"), page.text_content(".jp-Dialog")
        finally:
            page.close()
            browser.close()
