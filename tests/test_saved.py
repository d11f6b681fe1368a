"""The lesson is the source: ``jbert_helpers/saved.py`` is exactly the lessons' ``# jbert: save`` cells.

* the package's copy equals what ``jbert save`` generates from notebooks/ (edit a saved cell without
  regenerating, or edit saved.py by hand, and this fails);
* a saved cell fits on one screen and holds only definitions;
* the names saved.py exports are the package's ``saved`` exports, and every name the package exports
  is used by some lesson's code;
* the lesson that teaches a function defines it and never imports it; later lessons import it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import jbert_helpers
from jbert_helpers.errors import SaveError
from jbert_helpers.tools.savegen import MARKER, generate, save, saved_source

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SAVED = ROOT / "jbert_helpers" / "saved.py"
#: One screen of a notebook in JupyterLab at the default font size (a saved cell must fit).
SCREEN_LINES = 45


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _code(cell: dict) -> str:
    return "".join(cell["source"]) if cell["cell_type"] == "code" else ""


def _lessons() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_package_copy_is_generated_from_the_lessons() -> None:
    assert SAVED.read_text(encoding="utf-8") == generate(NOTEBOOKS), "run `jbert save` (saved.py ≠ the lessons)"


def test_jbert_save_check_reports_a_stale_copy(tmp_path: Path) -> None:
    """The command a maintainer runs: --check fails with a diff on a stale copy, then `save` repairs it."""
    out = tmp_path / "saved.py"
    out.write_text(SAVED.read_text(encoding="utf-8") + "\n# edited by hand\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "jbert_helpers.tools.cli", "save", str(NOTEBOOKS), "--out", str(out)]
    stale = subprocess.run([*cmd, "--check"], capture_output=True, text=True, timeout=120)
    assert stale.returncode == 1 and "-# edited by hand" in stale.stdout, stale.stdout + stale.stderr
    assert subprocess.run(cmd, capture_output=True, text=True, timeout=120).returncode == 0
    assert out.read_text(encoding="utf-8") == SAVED.read_text(encoding="utf-8")
    fresh = subprocess.run([*cmd, "--check"], capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr


def test_saved_cells_fit_on_a_screen() -> None:
    long = [
        f"{path.name} cell {i}: {len(_code(cell).splitlines())} lines"
        for path in _lessons()
        for i, cell in enumerate(_cells(path))
        if saved_source(cell) is not None and len(_code(cell).splitlines()) > SCREEN_LINES
    ]
    assert long == []


def test_saved_exports_are_the_package_exports() -> None:
    import jbert_helpers.saved as saved

    from_saved = {name for name, module in jbert_helpers._EXPORTS.items() if module == "saved"}
    assert saved.__all__, "no lesson saves a function"
    assert from_saved == set(saved.__all__)
    for name in saved.__all__:
        assert getattr(jbert_helpers, name) is getattr(saved, name)


def test_every_export_is_used_by_a_lesson() -> None:
    code = "\n".join(_code(cell) for path in _lessons() for cell in _cells(path))
    unused = [name for name in jbert_helpers.__all__ if not re.search(rf"\b{re.escape(name)}\b", code)]
    assert unused == [], "exported but no lesson uses it: move it to the tools/tests or drop it"


def test_the_teaching_lesson_defines_and_later_lessons_import() -> None:
    """A saved name is defined in one lesson; no lesson before it uses it; no lesson re-defines it."""
    import jbert_helpers.saved as saved

    taught: dict[str, int] = {}
    lessons = _lessons()
    for number, path in enumerate(lessons):
        for cell in _cells(path):
            code = saved_source(cell)
            if code is not None:
                for name in re.findall(r"^(?:def|class)\s+(\w+)", code, flags=re.M):
                    taught.setdefault(name, number)
    problems = []
    for name in saved.__all__:
        if name not in taught:
            continue  # a constant
        for number, path in enumerate(lessons):
            code = "\n".join(_code(c) for c in _cells(path) if saved_source(c) is None)
            imports = re.search(rf"from jbert_helpers import [^\n]*\b{name}\b", code)
            redefines = re.search(rf"^(?:def|class)\s+{name}\b", code, flags=re.M)
            if number < taught[name] and re.search(rf"\b{name}\b", code):
                problems.append(f"{path.name} uses {name} before {lessons[taught[name]].name} teaches it")
            if number == taught[name] and imports:
                problems.append(f"{path.name} teaches {name} but imports it")
            if redefines:
                problems.append(f"{path.name} defines {name} again outside a saved cell")
    assert problems == []


def _notebook(tmp_path: Path, name: str, *sources: str) -> Path:
    cells = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s} for s in sources
    ]
    path = tmp_path / name
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    return path


def test_generate_keeps_teaching_order_and_skips_unmarked_cells(tmp_path: Path) -> None:
    _notebook(tmp_path, "04-05_b.ipynb", f"{MARKER}\ndef b() -> int:\n    return 2\n", "b()\n")
    _notebook(
        tmp_path, "04-04_a.ipynb", f"{MARKER}\nimport math\n\nLIMIT = 3\n\n\ndef a() -> float:\n    return math.pi\n"
    )
    text = generate(tmp_path)
    assert text.index("04-04_a.ipynb, cell 0") < text.index("04-05_b.ipynb, cell 0")
    assert "b()\n\n" not in text.split("__all__")[0].split("def b()")[1]
    namespace: dict = {}
    exec(compile(text, "saved.py", "exec"), namespace)
    assert namespace["__all__"] == ["LIMIT", "a", "b"] and namespace["b"]() == 2


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (f"{MARKER}\ndef f() -> int:\n    return 1\n\nprint(f())\n", "次のセルへ"),
        (f"{MARKER}\ndef f(:\n", "Python として読めません"),
    ],
)
def test_a_saved_cell_that_is_not_only_definitions_is_refused(tmp_path: Path, source: str, message: str) -> None:
    _notebook(tmp_path, "04-09_x.ipynb", source)
    with pytest.raises(SaveError, match=message):
        generate(tmp_path)


def test_one_name_saved_by_two_lessons_is_refused(tmp_path: Path) -> None:
    _notebook(tmp_path, "04-04_a.ipynb", f"{MARKER}\ndef f() -> int:\n    return 1\n")
    _notebook(tmp_path, "04-05_b.ipynb", f"{MARKER}\ndef f() -> int:\n    return 2\n")
    with pytest.raises(SaveError, match="04-04_a.ipynb"):
        generate(tmp_path)


def test_save_check_writes_nothing(tmp_path: Path) -> None:
    _notebook(tmp_path, "04-04_a.ipynb", f"{MARKER}\ndef f() -> int:\n    return 1\n")
    out = tmp_path / "saved.py"
    assert save(tmp_path, out, check=True)[0] is False and not out.exists()
    assert save(tmp_path, out)[0] is False and out.exists()
    assert save(tmp_path, out, check=True) == (True, "")
