"""`make lab` lands on the index: the URL it prints opens notebooks/00_index.ipynb, served from the repository
root, so the index's relative links (../docs/teachers.md) resolve. Runs the Makefile's own command on a free
port, with no screen (DISPLAY unset: the URL is printed, not opened), follows the printed URL over HTTP, and
stops the server. Slow (starts JupyterLab): `make ci`. The browser check (tests/browser) renders the pages."""

from __future__ import annotations

import json
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from labserver import make_lab

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_make_lab_prints_a_url_that_lands_on_the_index(tmp_path: Path) -> None:
    with make_lab(ROOT, tmp_path / "lab.log") as url:
        parts = urllib.parse.urlsplit(url)
        assert parts.path.endswith("/lab/tree/notebooks/00_index.ipynb"), url
        token = urllib.parse.parse_qs(parts.query)["token"][0]
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200
        base = f"{parts.scheme}://{parts.netloc}"
        index = ROOT / "notebooks" / "00_index.ipynb"
        links = re.findall(r"\]\((\.\./[^)#\s]+)\)", json.dumps(json.loads(index.read_text(encoding="utf-8"))["cells"]))
        assert "../docs/teachers.md" in links
        for link in links:  # each relative link of the index, resolved as the browser resolves it
            served = os.path.normpath(os.path.join("notebooks", link))
            with urllib.request.urlopen(f"{base}/files/{served}?token={token}", timeout=30) as f:
                assert f.status == 200, served
