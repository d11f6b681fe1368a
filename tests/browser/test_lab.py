"""A lesson as a learner meets it: JupyterLab in headless Chromium, Run → Run All Cells.

For each lesson with a stored figure, and 04-13 (``lessons.py`` reads the list from the stored
outputs; ``JBERT_BROWSER_NOTEBOOKS`` overrides it): start JupyterLab from the
project's .venv on a free local port with a token, over a *copy* of notebooks/ (the run must not
touch the stored outputs), open the lesson, run all cells from the menu, wait until every cell has
run and the kernel is idle, then check

* no cell shows an error, except the cells tagged ``raises-exception``, which show exactly the
  error they teach (the same ``ename`` as the stored output) — and Run All went past them;
* Japanese renders: the title is Japanese text, a CJK font (and an emoji font, for check()'s
  ⏳/✅) is available to the page, and the
  full-page screenshot (``artifacts/browser/<name>.png``) is not blank;
* every figure the stored notebook has is drawn again in the page (an image that loaded), and no
  output says a glyph is "missing from font" (matplotlib's warning when a label would be tofu).

Run with ``make browser-test`` (installs chromium if missing). Needs ``/usr/bin/chromium``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from jbert_helpers.tools.kernelenv import NOTEBOOK_ENV
from jbert_helpers.tools.refresh import recorded_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared lab server
from labserver import free_port, stop  # noqa: E402
from lessons import browser_notebooks, figure_count  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = os.environ.get("JBERT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOTEBOOKS = browser_notebooks(ROOT / "notebooks", os.environ.get("JBERT_BROWSER_NOTEBOOKS"))
RUN_TIMEOUT = 600  # seconds for all cells of one lesson
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

if not Path(CHROMIUM).is_file():
    pytest.fail(
        f"{CHROMIUM} がありません: make browser-test (apt-get install chromium) で入れてください", pytrace=False
    )
playwright_sync = pytest.importorskip("playwright.sync_api", reason="pip install playwright (make browser-test)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(base url, token, served folder): JupyterLab serving a copy of notebooks/."""
    served = tmp_path_factory.mktemp("lab") / "notebooks"
    shutil.copytree(ROOT / "notebooks", served)
    settings = served.parent / "user-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Render every cell (no windowing), so the page holds the whole lesson for the checks and the screenshot.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    news = served.parent / "user-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)  # no "official Jupyter news?" toast over the screenshot (and no fetch)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port, token = free_port(), secrets.token_hex(16)
    # Kernels inherit the server's environment: the notebooks' kernels load the model their stored
    # outputs came from (metadata.jbert.model), as under nbval.
    labels = {recorded_model(ROOT / "notebooks" / n) or "standin" for n in NOTEBOOKS}
    assert len(labels) == 1, f"run notebooks recorded with different models separately: {labels}"
    env = dict(os.environ, **NOTEBOOK_ENV, JUPYTER_CONFIG_DIR=str(served.parent / "config"), JBERT_MODEL=labels.pop())
    log = (served.parent / "lab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={served}",
            f"--LabApp.user_settings_dir={served.parent / 'user-settings'}",
            f"--LabApp.workspaces_dir={served.parent / 'workspaces'}",
            "--ServerApp.open_browser=False",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("JupyterLab did not start:\n" + (served.parent / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield base, token, served
    stop(proc)
    log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def expected_errors(nb: dict) -> dict[int, str]:
    """code-cell index → ename of the error a ``raises-exception`` cell teaches (from its stored output)."""
    out = {}
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for i, cell in enumerate(code):
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            enames = [o["ename"] for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            out[i] = enames[0] if enames else "?"
    return out


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_lesson_runs_in_jupyterlab(lab: tuple[str, str, Path], browser, name: str) -> None:
    base, token, served = lab
    stored = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    n_code = sum(c["cell_type"] == "code" for c in stored["cells"])

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{base}/lab/tree/{name}?token={token}&reset", wait_until="domcontentloaded")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
        try:  # the lesson's own kernel (kernelspec "jbert", installed by make) is started and idle
            page.wait_for_function(
                """() => [...document.querySelectorAll('.jp-Notebook-ExecutionIndicator')]
                    .some(e => e.getAttribute('data-status') === 'idle')
                    && [...document.querySelectorAll('.jp-KernelName, .jp-Toolbar-kernelName')]
                    .some(e => e.textContent.includes('jbert'))""",
                timeout=120_000,
                polling=250,
            )
        except playwright_sync.TimeoutError:
            page.screenshot(path=str(served.parent / "not-ready.png"))
            dialog = page.text_content(".jp-Dialog") if page.query_selector(".jp-Dialog") else ""
            pytest.fail(f"kernel 'jbert' not idle after 120 s (dialog: {dialog!r}; jupyter kernelspec list?)")
        # clear the stored outputs first: every number and output seen afterwards comes from this run
        page.click(".lm-MenuBar-itemLabel:text-is('Edit')")
        page.click(".lm-Menu-itemLabel:text-is('Clear Outputs of All Cells')")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
            ".every(p => !/\\d/.test(p.textContent))",
            timeout=30_000,
        )
        page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
        # every code cell gets a number, none is [*], and the kernel is idle again
        page.wait_for_function(
            """(n) => {
                const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                    .map(p => p.textContent.trim());
                const idle = [...document.querySelectorAll('.jp-Notebook-ExecutionIndicator')]
                    .some(e => e.getAttribute('data-status') === 'idle');
                return prompts.length === n && prompts.every(t => /^\\[\\d+\\]:$/.test(t)) && idle;
            }""",
            arg=n_code,
            timeout=RUN_TIMEOUT * 1000,
            polling=500,
        )
        cells = page.eval_on_selector_all(
            ".jp-CodeCell",
            """cells => cells.map(c => ({
                prompt: c.querySelector('.jp-InputArea-prompt').textContent.trim(),
                error: [...c.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
                    .map(o => o.textContent).filter(t => /Error|Exception|Traceback/.test(t)).join('\\n'),
            }))""",
        )
        title = page.text_content(".jp-NotebookPanel .jp-MarkdownCell h1") or ""
        # figures: rendered <img> outputs that finished loading; and matplotlib's tofu warning anywhere
        figures = page.eval_on_selector_all(
            ".jp-CodeCell .jp-RenderedImage img",
            "imgs => imgs.map(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0)",
        )
        tofu = page.eval_on_selector_all(
            ".jp-CodeCell .jp-OutputArea-output",
            "outs => outs.map(o => o.textContent).filter(t => t.includes('missing from font'))",
        )
        # full page: the notebook scrolls inside the lab's panel, so grow the window to its height
        height = page.evaluate(
            """() => { const outer = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
                       outer.scrollTop = 0;
                       return outer.scrollHeight + outer.getBoundingClientRect().top + 60; }"""
        )
        page.set_viewport_size({"width": 1280, "height": min(int(height), 30000)})
        page.wait_for_timeout(1000)
        page.evaluate("() => { document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer').scrollTop = 0; }")
        page.wait_for_timeout(500)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / (name.split("_")[0] + ".png")
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()

    assert len(cells) == n_code
    assert [c["prompt"] for c in cells] == [f"[{i}]:" for i in range(1, n_code + 1)], "Run All stopped early"
    expected = expected_errors(stored)
    shown = {i: c["error"] for i, c in enumerate(cells) if c["error"]}
    assert set(shown) == set(expected), (
        f"unexpected errors: { {i: e[-300:] for i, e in shown.items() if i not in expected} }"
    )
    for i, ename in expected.items():
        assert ename in shown[i], (i, ename, shown[i][-300:])
    assert JAPANESE.search(title), title
    stored_figures = figure_count(ROOT / "notebooks" / name)
    assert len(figures) == stored_figures and all(figures), (
        f"{name}: {stored_figures} figure(s) stored, {len(figures)} drawn in the page, loaded: {figures}"
    )
    assert not tofu, f"matplotlib drew boxes instead of Japanese (missing glyphs): {tofu[0][-300:]}"
    # Chromium on Linux draws with fontconfig's fonts: without a Japanese one, every kana is a box (tofu)
    ja_fonts = subprocess.run(["fc-list", ":lang=ja", "family"], capture_output=True, text=True).stdout
    assert ja_fonts.strip(), "no Japanese font: apt-get install fonts-noto-cjk (make browser-test)"
    # check() prints ⏳ / ✅ / ❌: without an emoji font they are boxes too
    emoji = subprocess.run(["fc-list", ":charset=23f3", "family"], capture_output=True, text=True).stdout
    assert emoji.strip(), "no font with ⏳ (U+23F3): apt-get install fonts-noto-color-emoji (make browser-test)"

    from PIL import Image

    with Image.open(shot) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
        assert img.height > 900 and (colours is None or len(colours) > 50), "blank screenshot"
