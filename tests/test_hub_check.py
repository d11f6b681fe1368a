"""tests/hub_check.py's comparison is nbval's: same markers, same sanitize rules, same verdicts.

The Hub run itself is `make hub-check` (needs root); these tests need no Hub.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from jbert_helpers.tools.kernelenv import ignored_cell

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "04-16_forward_pass.ipynb"


@pytest.fixture(scope="module")
def hub_check():
    import hub_check  # tests/hub_check.py: `make hub-check` runs it as `python tests/hub_check.py`

    return hub_check


def stored() -> nbformat.NotebookNode:
    return nbformat.read(LESSON, as_version=4)


def code_cell(nb, needle: str):
    return next(c for c in nb.cells if c.cell_type == "code" and needle in c.source)


def test_identical_outputs_match(hub_check):
    assert hub_check.nbval_compare(stored(), stored()) == []


def test_changed_output_is_reported(hub_check):
    executed = stored()
    cell = code_cell(executed, "last_hidden_state.dtype")
    cell.outputs[0]["text"] = cell.outputs[0]["text"].replace("(2, 32, 768)", "(2, 32, 769)")
    problems = hub_check.nbval_compare(stored(), executed)
    assert len(problems) == 1 and "outputs differ" in problems[0] and "769" in problems[0]


def test_extra_stderr_is_reported(hub_check):
    executed = stored()
    cell = code_cell(executed, "last_hidden_state.dtype")
    cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text="UserWarning: new\n"))
    assert len(hub_check.nbval_compare(stored(), executed)) == 1


def test_model_lines_are_sanitized_as_in_nbval_sanitize_cfg(hub_check):
    executed = stored()
    cell = code_cell(executed, "resolve_model_name()")
    for out in cell.outputs:
        text = out.get("text", "")
        text = text.replace("環境変数 JBERT_MODEL=standin", "本物のモデルがキャッシュになく HF_HUB_OFFLINE=1")
        out["text"] = text.replace("/root/.cache/jbert/standin-v2", "/srv/jbert/standin/standin-v2")
    assert copy.deepcopy(executed) != stored()
    assert hub_check.nbval_compare(stored(), executed) == []


def test_ignored_cell_may_differ(hub_check):
    executed = stored()
    cell = code_cell(executed, "print_versions()")
    assert ignored_cell(cell)
    cell.outputs[0]["text"] = "python 3.12.0\n"
    assert hub_check.nbval_compare(stored(), executed) == []


def test_missing_cell_is_reported(hub_check):
    executed = stored()
    del executed.cells[-2]
    executed.cells = [c for c in executed.cells if 'check_exercise("04-16-2"' not in c.source]
    assert "code cells" in hub_check.nbval_compare(stored(), executed)[0]
