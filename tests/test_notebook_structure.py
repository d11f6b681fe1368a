"""The student path: every lesson is linked from 00_index, records which model made its outputs,
opens with the one goals pattern, and ends with 前へ / 次へ links to notebooks that exist; no code cell
carries a test marker (nbval's cell tags instead, each with its reason in metadata.jbert.reason)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("04-*.ipynb"))
LINK = re.compile(r"\]\(([^)#\s]+\.ipynb)(?:#[^)]*)?\)")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _metadata(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))["metadata"]


def test_there_are_lessons() -> None:
    assert len(LESSONS) >= 19


def test_index_links_every_lesson() -> None:
    index = "\n".join(_source(c) for c in _cells(NOTEBOOKS / "00_index.ipynb") if c["cell_type"] == "markdown")
    linked = set(LINK.findall(index))
    missing = [p.name for p in LESSONS if p.name not in linked]
    assert not missing, f"00_index.ipynb does not link {missing}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_records_its_model(path: Path) -> None:
    jbert = _metadata(path).get("jbert")
    assert isinstance(jbert, dict) and jbert.get("model"), (
        f"{path.name}: metadata.jbert.model is missing (jbert refresh writes it)"
    )


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_opens_with_title_and_goals(path: Path) -> None:
    first = _source(_cells(path)[0])
    number = "4-" + path.name[3:].split("_")[0].lstrip("0")  # 04-13a_… -> 4-13a
    assert first.startswith(f"# {number} "), f"{path.name}: the first line must be the title '# {number} …'"
    assert "\n**この節で学ぶこと**\n\n- " in first, (
        f"{path.name}: the first cell has not the goals pattern of docs/style.md"
    )


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_ends_with_prev_and_next_links(path: Path) -> None:
    last = _source(_cells(path)[-1])
    prev = re.search(r"\[← 前へ: [^\]]+\]\(([^)]+\.ipynb)\)", last)
    nxt = re.search(r"\[次へ: [^\]]+\]\(([^)]+\.ipynb)\)", last)
    assert prev and nxt, f"{path.name}: the last cell must hold 「前へ」 and 「次へ」 links"
    order = ["00_index.ipynb", *(p.name for p in LESSONS)]
    i = order.index(path.name)
    assert prev.group(1) == order[i - 1], f"{path.name}: 前へ points at {prev.group(1)}, not {order[i - 1]}"
    expected_next = order[i + 1] if i + 1 < len(order) else "00_index.ipynb"
    assert nxt.group(1) == expected_next, f"{path.name}: 次へ points at {nxt.group(1)}, not {expected_next}"


@pytest.mark.parametrize("path", [NOTEBOOKS / "00_index.ipynb", *LESSONS], ids=lambda p: p.name)
def test_links_point_at_existing_notebooks(path: Path) -> None:
    text = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown")
    broken = [target for target in LINK.findall(text) if not (NOTEBOOKS / target).exists()]
    assert not broken, f"{path.name} links to missing notebooks {broken}"


@pytest.mark.parametrize("path", [NOTEBOOKS / "00_index.ipynb", *LESSONS], ids=lambda p: p.name)
def test_one_name_for_the_reference_notebook(path: Path) -> None:
    text = "\n".join(_source(c) for c in _cells(path))
    assert "シード" not in text, f"{path.name}: say 参考ノートブック, not シード (docs/style.md)"


#: nbval's cell tags (nbval's documentation); each needs a reason a maintainer can read.
NBVAL_TAGS = {"nbval-ignore-output", "nbval-check-output", "nbval-skip", "raises-exception", "nbval-raises-exception"}


def _code_cells(path: Path) -> list[tuple[int, dict]]:
    return [(i, c) for i, c in enumerate(_cells(path)) if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", [NOTEBOOKS / "00_index.ipynb", *LESSONS], ids=lambda p: p.name)
def test_no_code_cell_carries_a_test_marker(path: Path) -> None:
    marked = [i for i, c in _code_cells(path) if "nbval" in _source(c).lower()]
    assert not marked, (
        f"{path.name}: cells {marked} mention nbval in their code (learners read it): "
        "run `.venv/bin/python tests/nbval_tags.py` to move the markers into cell tags"
    )


@pytest.mark.parametrize("path", [NOTEBOOKS / "00_index.ipynb", *LESSONS], ids=lambda p: p.name)
def test_every_nbval_tag_has_a_reason(path: Path) -> None:
    missing = [
        i
        for i, c in _code_cells(path)
        if NBVAL_TAGS & set(c.get("metadata", {}).get("tags", []))
        and not str(c.get("metadata", {}).get("jbert", {}).get("reason", "")).strip()
    ]
    assert not missing, f"{path.name}: cells {missing} have an nbval tag but no metadata.jbert.reason"


@pytest.mark.parametrize("path", [NOTEBOOKS / "00_index.ipynb", *LESSONS], ids=lambda p: p.name)
def test_stored_outputs_come_from_jbert_refresh_of_this_code(path: Path) -> None:
    """The cheap half of "committed = refreshed" (the slow half re-runs refresh on a copy): what refresh
    records matches the notebook as committed — a fingerprint per ignored cell of its current source, and
    the versions of the packages print_versions() prints today. A mismatch means an edit without refresh."""
    from jbert_helpers.tools.kernelenv import ignored_cell
    from jbert_helpers.tools.refresh import fingerprint
    from jbert_helpers.versions import RECORDED_PACKAGES

    meta = _metadata(path).get("jbert", {})
    expected = {c["id"]: fingerprint(_source(c)) for _, c in _code_cells(path) if ignored_cell(c)}
    fix = f"run `.venv/bin/jbert refresh notebooks/{path.name} --model {meta.get('model', 'standin')}`"
    assert meta.get("ignored_outputs") == expected, f"{path.name}: ignored cells not refreshed; {fix}"
    assert set(meta.get("versions", {})) == set(RECORDED_PACKAGES), f"{path.name}: versions not refreshed; {fix}"
