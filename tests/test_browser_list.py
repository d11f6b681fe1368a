"""The browser check's list of lessons comes from the stored outputs (tests/browser/lessons.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from lessons import ALWAYS, browser_notebooks, figure_count  # noqa: E402


def _write(folder: Path, name: str, outputs: list[dict]) -> None:
    cell = {"cell_type": "code", "source": "", "metadata": {}, "outputs": outputs, "execution_count": 1}
    (folder / name).write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_lessons_with_a_stored_figure_are_run(tmp_path):
    png = {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}, "metadata": {}}
    text = {"output_type": "stream", "name": "stdout", "text": "image/png は文字列だけ"}
    _write(tmp_path, "04-02_a.ipynb", [png])
    _write(tmp_path, "04-03_b.ipynb", [text])
    _write(tmp_path, "04-13_tensors_and_invariants.ipynb", [text])
    assert browser_notebooks(tmp_path) == ["04-02_a.ipynb", "04-13_tensors_and_invariants.ipynb"]
    assert browser_notebooks(tmp_path, "04-03_b.ipynb, 04-02_a.ipynb") == ["04-03_b.ipynb", "04-02_a.ipynb"]
    assert browser_notebooks(tmp_path, "") == browser_notebooks(tmp_path)


def test_the_real_list_covers_every_lesson_with_a_figure():
    names = browser_notebooks(ROOT / "notebooks")
    for lesson in (
        "04-02_bert_theory.ipynb",
        "04-04_tokenize_words_subwords.ipynb",
        "04-09_padding.ipynb",
        "04-10_truncation.ipynb",
        "04-12_dynamic_padding.ipynb",
    ):
        assert lesson in names and figure_count(ROOT / "notebooks" / lesson) >= 1, lesson
    assert set(ALWAYS) <= set(names)
    assert "04-03_load_tokenizer.ipynb" not in names  # no figure there
