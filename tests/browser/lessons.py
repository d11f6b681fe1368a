"""Which lessons the real-browser check runs: read from the stored notebooks, not listed by hand.

Every lesson whose stored outputs hold a figure (an ``image/png`` output) — a learner looks at it,
so it must draw in JupyterLab with Japanese labels — plus 04-13, the lesson whose cells raise on
purpose (the check that Run All goes past them). ``JBERT_BROWSER_NOTEBOOKS`` (comma-separated file
names; ``make browser-test BROWSER_NOTEBOOKS=…``) overrides the list.
"""

from __future__ import annotations

import json
from pathlib import Path

#: Always run: its ``raises-exception`` cells test that Run All does not stop at a taught error.
ALWAYS = ("04-13_tensors_and_invariants.ipynb",)


def figure_count(path: Path) -> int:
    """How many ``image/png`` outputs the stored notebook holds."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
    )


def browser_notebooks(folder: Path, override: str | None = None) -> list[str]:
    """File names (in ``folder``) of the lessons to run: ``override`` if given, else those with a figure + ALWAYS."""
    if override and override.strip():
        return [name.strip() for name in override.split(",") if name.strip()]
    with_figures = {p.name for p in folder.glob("*.ipynb") if figure_count(p) > 0}
    return sorted(with_figures | {name for name in ALWAYS if (folder / name).exists()})
