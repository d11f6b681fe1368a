"""Exercises in a lesson, and ``jbert handout``: student copies without the solutions.

A lesson's exercise has the shape the notebooks use (see :mod:`jbert_helpers.exercises`)::

    answer = ...  # ここに答えを書く                        ← the answer cell
    check_exercise("04-07-1", answer, tokenizer=tokenizer)  ← the check cell
    <details><summary>解答例</summary> … </details>         ← the solution, in a markdown cell

:func:`find_exercises` finds them syntactically: a check cell is a code cell that calls
``check_exercise`` with an exercise key (a string) and a variable as its first two arguments; its
answer cell is the nearest code cell before it that assigns that variable. The same variable
(``answer``) may serve several exercises.

:func:`make_handout` removes every ``<details>…</details>`` block from the markdown (and a cell
that held nothing else), puts each answer cell back to ``answer = ...`` and clears the exercise
cells' outputs; every other cell, and its stored output, is kept as it is.

>>> import nbformat
>>> nb = nbformat.v4.new_notebook(cells=[
...     nbformat.v4.new_markdown_cell("# 4-0 例"),
...     nbformat.v4.new_code_cell("answer = 13"),
...     nbformat.v4.new_code_cell("check_exercise('04-07-1', answer, tokenizer=tokenizer)"),
...     nbformat.v4.new_markdown_cell("<details><summary>解答例</summary>\\n\\n11\\n\\n</details>"),
... ])
>>> [(e.number, e.variable, e.what) for e in find_exercises(nb)]
[(1, 'answer', '系列長')]
>>> [c.source for c in make_handout(nb).cells]
['# 4-0 例', 'answer = ...  # ここに答えを書く', "check_exercise('04-07-1', answer, tokenizer=tokenizer)"]
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import HandoutError

#: The comment an answer cell gets when it is put back to ``answer = ...``.
ANSWER_COMMENT = "# ここに答えを書く"

_DETAILS = re.compile(r"[ \t]*<details\b.*?</details>[ \t]*", re.DOTALL | re.IGNORECASE)
_BLANK_RUN = re.compile(r"\n{3,}")
_LESSON_CODE = re.compile(r"^(\d\d-\d\d)")


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lesson: where its cells are and which variable holds the answer."""

    number: int  #: 1, 2, … in the order of the lesson
    variable: str  #: the variable the learner assigns (``answer``, ``answer2``)
    check_cell: int  #: index of the cell calling ``check_exercise``
    answer_cell: int | None  #: index of the cell assigning the variable (None: not found)
    what: str  #: the registered exercise's label (``系列長``), or its key when it is not registered
    check_cell_id: str | None  #: the check cell's nbformat id (found again in submissions)
    answer_cell_id: str | None = None  #: the answer cell's nbformat id


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # RecursionError: deeply nested code
        return None


def check_calls(source: str) -> list[ast.Call]:
    """The check calls in a cell's source (none when it does not parse): ``check_exercise("<key>", <variable>, …)``.

    >>> [ast.unparse(c) for c in check_calls("from jbert_helpers import check_exercise\\n"
    ...                                      "check_exercise('04-07-1', answer, tokenizer=tokenizer)")]
    ["check_exercise('04-07-1', answer, tokenizer=tokenizer)"]
    >>> check_calls("def check_exercise(*a): print('✅')"), check_calls("check_exercise(key, answer)")
    ([], [])
    """
    return _check_calls(_parse(source))


def _check_calls(tree: ast.Module | None) -> list[ast.Call]:
    if tree is None:
        return []
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and answer_variable(node) is not None]


def answer_variable(call: ast.Call) -> str | None:
    """The name of the answer variable a check call checks, or None when ``call`` is not a check call
    (``check_exercise("<key>", <variable>, …)``: a literal key, then a plain name)."""
    if (
        isinstance(call.func, ast.Name)
        and call.func.id == "check_exercise"
        and len(call.args) >= 2
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
        and isinstance(call.args[1], ast.Name)
    ):
        return call.args[1].id
    return None


def _assigned(source: str, tree: ast.Module | None) -> set[str]:
    """The names a cell assigns at its top level (by a regular expression when it does not parse)."""
    if tree is None:
        return set(re.findall(r"^\s*([A-Za-z_]\w*)\s*=", source, re.MULTILINE))
    names: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _what(call: ast.Call) -> str:
    """The label of a check call's exercise (``系列長``), or its key when no exercise has that key."""
    from ..exercises import EXERCISES

    first = call.args[0]
    assert isinstance(first, ast.Constant)  # a check call's key is a literal string (answer_variable)
    key = str(first.value)
    return EXERCISES[key].what if key in EXERCISES else key


def find_exercises(nb: Any) -> list[Exercise]:
    """The exercises of notebook ``nb`` (an nbformat notebook), in order.

    Linear in the notebook's size: each cell is parsed once, and the answer cell of a check is
    found from the last check cell and the last cell assigning each variable seen so far.
    """
    found: list[Exercise] = []
    last_check = -1  # the last code cell with a check call
    last_assign: dict[str, int] = {}  # variable -> the last code cell assigning it
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or not isinstance(cell.get("source"), str):
            continue
        tree = _parse(cell.source)
        calls = _check_calls(tree)
        for call in calls:
            variable = answer_variable(call)
            assert variable is not None
            nearest = max(last_check, last_assign.get(variable, -1))
            answer_cell = nearest if nearest >= 0 and nearest != last_check else None
            number = len(found) + 1
            answer_id = nb.cells[answer_cell].get("id") if answer_cell is not None else None
            found.append(Exercise(number, variable, index, answer_cell, _what(call), cell.get("id"), answer_id))
        if calls:
            last_check = index
        for name in _assigned(cell.source, tree):
            last_assign[name] = index
    return found


def lesson_title(nb: Any) -> str | None:
    """The first ``# `` heading of the notebook's first markdown cell (``# 4-7 encode と decode…``)."""
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown" and isinstance(cell.get("source"), str):
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
            return None
    return None


def lesson_code(name: str) -> str | None:
    """The section code a file name starts with: ``04-07_encode_decode (1).ipynb`` → ``04-07``."""
    m = _LESSON_CODE.match(name)
    return m.group(1) if m else None


def _strip_details(source: str) -> str:
    text = _DETAILS.sub("", source)
    return _BLANK_RUN.sub("\n\n", text).strip("\n")


def _blank_answer(source: str, variable: str) -> str:
    m = re.fullmatch(rf"\s*{re.escape(variable)}\s*=\s*\.\.\.\s*(#.*)?\s*", source)
    comment = m.group(1).strip() if m and m.group(1) else ANSWER_COMMENT
    return f"{variable} = ...  {comment}"


def _clear(cell: Any) -> None:
    cell.outputs = []
    cell.execution_count = None
    cell.metadata.pop("execution", None)


def make_handout(nb: Any) -> Any:
    """A student copy of lesson ``nb``: solutions removed, answers blank, exercise outputs cleared."""
    out = copy.deepcopy(nb)
    for ex in find_exercises(out):
        _clear(out.cells[ex.check_cell])
        if ex.answer_cell is not None:
            cell = out.cells[ex.answer_cell]
            cell.source = _blank_answer(cell.source, ex.variable)
            _clear(cell)
    kept = []
    for cell in out.cells:
        if cell.cell_type == "markdown" and "<details" in cell.source.lower():
            cell.source = _strip_details(cell.source)
            if not cell.source.strip():
                continue
        kept.append(cell)
    out.cells = kept
    return out


def handout(paths: Iterable[Path], out_dir: Path) -> list[Path]:
    """Write a student copy of each lesson in ``paths`` into ``out_dir`` (same file names).

    Refuses to write into the folder a lesson comes from, so the self-study copies (with the
    solutions) are never overwritten.
    """
    import nbformat

    out_dir = Path(out_dir)
    written = []
    paths = [Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise HandoutError(f"ノートブックがありません / no such notebook: {', '.join(missing)}")
    for p in paths:
        if out_dir.resolve() == p.parent.resolve():
            raise HandoutError(
                f"--out {out_dir} は元のレッスンと同じフォルダです。解答付きの原本を上書きしないよう、別のフォルダを指定してください "
                "/ --out must not be the lessons' own folder"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    for p in paths:
        try:
            nb = nbformat.read(p, as_version=4)
        except Exception as e:  # nbformat raises several kinds for a broken file
            raise HandoutError(f"{p.name} を読めません / cannot read {p}: {e}") from None
        student = make_handout(nb)
        target = out_dir / p.name
        target.write_text(nbformat.writes(student) + "\n", encoding="utf-8")
        written.append(target)
    return written
