"""`make lab` as a learner meets it: the URL it prints, opened in Chromium, lands on the index, and the index's
link to the teachers' guide (``../docs/teachers.md``) opens it.

Runs the Makefile's own ``lab`` target in a copy of the checkout (notebooks/, docs/ and the files the target
reads; ``.venv`` is this checkout's, linked), with no screen (the URL is printed, not opened), follows the
printed ``http://127.0.0.1…`` URL in headless Chromium, and keeps a screenshot
(``artifacts/browser/make-lab-index.png``). ``tests/test_lab_url.py`` checks the same URL over HTTP in ``make ci``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared lab server
from labserver import make_lab  # noqa: E402
from test_lab import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, playwright_sync  # noqa: E402  (the same browser set-up)

ROOT = Path(__file__).resolve().parents[2]
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
    with make_lab(checkout, checkout / "lab.log", JUPYTERLAB_SETTINGS_DIR=str(checkout / "user-settings")) as url:
        yield url


def test_the_printed_url_opens_the_index_and_its_link_to_the_teachers_guide(printed_url: str) -> None:
    assert printed_url.split("?")[0].endswith("/lab/tree/notebooks/00_index.ipynb"), printed_url
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(printed_url, wait_until="domcontentloaded")
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
