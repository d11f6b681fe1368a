"""The real-browser check is run by its own command (``make browser-test``), not by ``make test``.

It needs Debian's ``chromium`` and the ``playwright`` package and takes a minute per lesson, so
the default run skips collecting this folder; ``JBERT_BROWSER_TESTS=1`` (set by the make target)
collects it.
"""

from __future__ import annotations

import os

if os.environ.get("JBERT_BROWSER_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]
