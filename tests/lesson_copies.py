"""Lessons and submissions as the grading tests build them, the way real ones look.

A lesson is a copy of a notebook in ``notebooks/`` (its check cells are the lessons' own
``check_exercise("04-07-1", answer, tokenizer=tokenizer)``). A student's submission is the handout
(:func:`jbert_helpers.tools.classroom.make_handout`) with answer cells rewritten, as a student
rewrites them; every other cell stays as handed out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat

from jbert_helpers.tools.classroom import find_exercises, make_handout
from jbert_helpers.tools.refresh import notebooks_dir


def copy_lessons(folder: Path, *stems: str) -> Path:
    """Copy ``notebooks/<stem>.ipynb`` of each stem into ``folder`` (made if needed), byte for byte."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        (folder / f"{stem}.ipynb").write_bytes((notebooks_dir() / f"{stem}.ipynb").read_bytes())
    return folder


def blank(lesson: Path) -> Any:
    """The student copy of the lesson at ``lesson``: what ``jbert handout`` writes."""
    return make_handout(nbformat.read(lesson, as_version=4))


def fill(handout_nb: Any, *answers: str | None) -> Any:
    """A copy of ``handout_nb`` with the answer cell of exercise 1, 2 … set to ``answers`` (one per
    exercise; None keeps the handout's ``answer = ...``)."""
    nb = nbformat.from_dict(json.loads(json.dumps(handout_nb)))
    for exercise, source in zip(find_exercises(nb), answers, strict=True):
        if source is not None:
            assert exercise.answer_cell is not None
            nb.cells[exercise.answer_cell].source = source
    return nb


def write(path: Path, nb: Any) -> None:
    """Write notebook ``nb`` to ``path``, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
