"""tests/nbval_tags.py: the old comment markers become nbval's cell tags, the reason goes to the metadata,
the stored outputs and refresh's fingerprints follow, and a second run changes nothing."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbval_tags import convert_notebook

from jbert_helpers.tools.kernelenv import ignored_cell
from jbert_helpers.tools.refresh import fingerprint

OLD_IGNORED = "# NBVAL_IGNORE_OUTPUT\n# 理由: 実行時間は機械で変わるため\nimport time\nprint(time.time())"
OLD_RAISING = "# わざとエラーを起こすセル (nbval はこのセルが例外を出すことを確認する)\n1 / 0"


def _old_form(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    timing = nbformat.v4.new_code_cell(OLD_IGNORED)
    timing.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1.5\n")]
    raising = nbformat.v4.new_code_cell(OLD_RAISING, metadata={"tags": ["raises-exception"]})
    plain = nbformat.v4.new_code_cell("print(1)  # NBVAL は本文に出ない")
    nb.cells = [nbformat.v4.new_markdown_cell("# nbval の話は本文ならよい"), timing, raising, plain]
    nb.metadata["jbert"] = {"model": "standin", "ignored_outputs": {timing.id: fingerprint(OLD_IGNORED)}}
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return path


def test_old_markers_become_tags_with_reasons(tmp_path: Path) -> None:
    path = _old_form(tmp_path / "old.ipynb")
    assert convert_notebook(path) == 2
    nb = nbformat.read(path, as_version=4)
    _, timing, raising, plain = nb.cells
    assert timing.source == "import time\nprint(time.time())"
    assert timing.metadata["tags"] == ["nbval-ignore-output"] and ignored_cell(timing)
    assert timing.metadata["jbert"]["reason"] == "実行時間は機械で変わるため"
    assert timing.outputs[0]["text"] == "1.5\n"  # outputs untouched
    assert nb.metadata["jbert"]["ignored_outputs"] == {timing.id: fingerprint(timing.source)}  # refresh keeps it
    assert raising.source == "# わざとエラーを起こすセル\n1 / 0"  # same line count (tracebacks name lines)
    assert raising.metadata["tags"] == ["raises-exception"]
    assert raising.metadata["jbert"]["reason"] == "わざとエラーを起こすセル: nbval はこのセルが例外を出すことを確認する"
    assert plain.source == "print(1)  # NBVAL は本文に出ない" and "tags" not in plain.metadata  # not a marker line


def test_conversion_is_idempotent(tmp_path: Path) -> None:
    path = _old_form(tmp_path / "old.ipynb")
    convert_notebook(path)
    once = path.read_bytes()
    assert convert_notebook(path) == 0
    assert path.read_bytes() == once
