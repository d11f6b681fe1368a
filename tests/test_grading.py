"""``jbert handout`` and ``jbert grade``: student copies, and a gradebook from untrusted submissions.

The grading tests grade real lessons copied from ``notebooks/`` (the tokenizer lesson 04-07, with
04-09 beside it), whose check cells are the lessons' ``check_exercise("04-07-1", answer,
tokenizer=tokenizer)``; a submission is the handout with its answer cells set, as a student sets
them (``tests/lesson_copies.py``, shared with ``test_grading_attacks.py``). 04-07 loads only a
tokenizer, so a submission takes a few seconds. Timeouts are small (10 s per cell, 30 s per
notebook) and serve as hang guards; nothing asserts a duration. 2 GiB of address space per kernel:
with 1 GiB and the tokenizer loaded, the 100 MB print itself ran out of memory.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from lesson_copies import copy_lessons, fill, write
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from jbert_helpers.errors import GradingError, HandoutError, JbertError
from jbert_helpers.tools import grading, sandbox
from jbert_helpers.tools.classroom import find_exercises, handout, make_handout
from jbert_helpers.tools.cli import main
from jbert_helpers.tools.grading import Limits, grade
from jbert_helpers.tools.refresh import notebooks_dir

LESSONS = sorted(p for p in notebooks_dir().glob("*.ipynb"))
TEST_LIMITS = Limits(cell_timeout=10, notebook_timeout=30, startup_timeout=60, memory_mb=2048)


# --------------------------------------------------------------------------------------- handout


def _read(path: Path) -> Any:
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_handout_removes_solutions_and_keeps_everything_else(path: Path) -> None:
    original = _read(path)
    student = make_handout(original)
    exercises = find_exercises(original)
    exercise_cells = {e.check_cell for e in exercises} | {e.answer_cell for e in exercises}
    assert all(e.answer_cell is not None for e in exercises)
    text = json.dumps([c.source for c in student.cells], ensure_ascii=False)
    assert "<details" not in text and "</details>" not in text
    if exercises:
        assert "解答例" not in text
    # every non-exercise cell is kept with its source and stored outputs, in order
    kept_by_id = {c.id: c for c in student.cells}
    for index, cell in enumerate(original.cells):
        if cell.cell_type == "markdown" and "<details" in cell.source:
            rest = cell.source.split("</details>")[-1].strip()
            assert (cell.id in kept_by_id) == bool(rest)
            if rest:
                assert kept_by_id[cell.id].source.endswith(rest)
            continue
        assert cell.id in kept_by_id, index
        copy = kept_by_id[cell.id]
        assert copy.source if index in exercise_cells else copy.source == cell.source
        if cell.cell_type == "code" and index not in exercise_cells:
            assert copy.outputs == cell.outputs
    for e in find_exercises(student):
        answer = student.cells[e.answer_cell]
        assert answer.source.startswith(f"{e.variable} = ...  # ")
        assert answer.outputs == [] and student.cells[e.check_cell].outputs == []
    assert len(find_exercises(student)) == len(exercises)


def test_handout_puts_a_filled_in_answer_back_to_ellipsis(tmp_path: Path) -> None:
    nb = _read(notebooks_dir() / "04-07_encode_decode.ipynb")
    first = find_exercises(nb)[0]
    nb.cells[first.answer_cell].source = "answer = 11"  # a teacher's copy with the answer written in
    (tmp_path / "lessons").mkdir()
    nbformat.write(nb, tmp_path / "lessons" / "04-07_encode_decode.ipynb")
    [out] = handout([tmp_path / "lessons" / "04-07_encode_decode.ipynb"], tmp_path / "out")
    student = _read(out)
    assert student.cells[first.answer_cell].source == "answer = ...  # ここに答えを書く"
    assert "answer = 11" not in out.read_text(encoding="utf-8")


def test_handout_refuses_to_overwrite_the_lessons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(HandoutError):
        handout([LESSONS[1]], LESSONS[1].parent)
    assert main(["handout", str(tmp_path / "missing.ipynb"), "--out", str(tmp_path)]) == 2
    assert "missing.ipynb" in capsys.readouterr().err


def test_handout_copy_runs_top_to_bottom(tmp_path: Path) -> None:
    from nbclient import NotebookClient

    assert main(["handout", str(notebooks_dir() / "04-07_encode_decode.ipynb"), "--out", str(tmp_path)]) == 0
    nb = _read(tmp_path / "04-07_encode_decode.ipynb")
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    checks = [nb.cells[e.check_cell] for e in find_exercises(nb)]
    printed = ["".join(o.get("text", "") for o in c.outputs) for c in checks]
    assert len(printed) == 2 and all(p.startswith("⏳") for p in printed), printed


# ------------------------------------------------------------- real lessons and their submissions

LESSON = "04-07_encode_decode"  # check_exercise("04-07-1", answer, …) and ("04-07-2", answer2, …)
OTHER = "04-09_padding"  # a second real lesson: a submission of it under 04-07's name
# The lesson's solutions (its <details> blocks): the sequence length 11, the decoded sentence.
RIGHT_1, RIGHT_2 = "answer = 11", "answer2 = '明日 の 天気 は 晴れ だ 。'"

# student -> (answer cell 1, answer cell 2); None keeps the handout's `answer = ...`
SUBMISSIONS: dict[str, tuple[str | None, str | None]] = {
    "right": (RIGHT_1, RIGHT_2),
    "wrong": ("answer = 10", "answer2 = '明日の天気は晴れだ。'"),
    "unanswered": (None, None),
    "raises": ("answer = 1 / 0", RIGHT_2),
    "loops": ("while True:\n    pass", RIGHT_2),
    "allocates": ("chunks = []\nwhile True:\n    chunks.append(bytearray(10**8))", RIGHT_2),
    "kernel_dies": ("import os\nos._exit(1)", RIGHT_2),
    "ignores_interrupt": (
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)",
        RIGHT_2,
    ),
    "prints_100mb": ("print('x' * 100_000_000)\n" + RIGHT_1, RIGHT_2),
    # the check cell's own `from jbert_helpers import check_exercise` gets this one: it prints ✅ for 10
    "redefines_check": (
        "import jbert_helpers\n\n"
        "def check_exercise(*args, **kwargs):\n    print('✅ 系列長: 正解です')\n\n"
        "jbert_helpers.check_exercise = check_exercise\nanswer = 10",
        "class Always:\n    def __eq__(self, other):\n        return True\n\nanswer2 = Always()",
    ),
    "deletes_files": ("import os\nfor name in os.listdir('.'):\n    os.remove(name)\n" + RIGHT_1, RIGHT_2),
    "uses_network": (
        "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=3)\n" + RIGHT_1,
        RIGHT_2,
    ),
}


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def classroom_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("classroom")
    lessons = copy_lessons(root / "lessons", LESSON, OTHER)
    handout(sorted(lessons.glob("*.ipynb")), root / "handout")
    lesson_blank = _read(root / "handout" / f"{LESSON}.ipynb")
    subs = root / "submissions"
    for student, answers in SUBMISSIONS.items():
        write(subs / student / f"{LESSON}.ipynb", fill(lesson_blank, *answers))
    (subs / "not_json").mkdir()
    (subs / "not_json" / f"{LESSON}.ipynb").write_text('{"cells": [', encoding="utf-8")
    # 04-09's notebook, answered right, under 04-07's name
    other = fill(_read(root / "handout" / f"{OTHER}.ipynb"), "answer = 7", "answer2 = 0.8176")
    write(subs / "other_lesson" / f"{LESSON}.ipynb", other)
    return lessons, subs


@pytest.fixture(scope="module")
def graded(classroom_dirs: tuple[Path, Path]) -> tuple[grading.Gradebook, dict[str, str], dict[str, str]]:
    lessons, subs = classroom_dirs
    before = _digest(subs)
    book = grade(subs, lessons_dir=lessons, model="standin", limits=TEST_LIMITS)
    return book, before, _digest(subs)


def _rows(book: grading.Gradebook) -> dict[tuple[str, int], grading.Grade]:
    return {(g.student, g.exercise): g for g in book.grades}


def test_every_submission_gets_a_row_per_exercise_with_a_reason(graded: Any) -> None:
    book, _, _ = graded
    rows = _rows(book)
    students = {*SUBMISSIONS, "not_json", "other_lesson"}
    assert {g.student for g in book.grades} == students
    assert len(book.grades) == 2 * len(students)
    for g in book.grades:
        assert g.lesson == LESSON and g.status in grading.STATUS_SYMBOL
        assert (g.reason == "") == (g.status == "correct"), g
    assert [rows["right", n].status for n in (1, 2)] == ["correct", "correct"]
    assert [rows["wrong", n].status for n in (1, 2)] == ["wrong", "wrong"]
    assert "10" in rows["wrong", 1].reason and "11" in rows["wrong", 1].reason
    assert "明日の天気は晴れだ。" in rows["wrong", 2].reason and "明日 の 天気" in rows["wrong", 2].reason
    assert [rows["right", n].what for n in (1, 2)] == ["系列長", "decode の結果"]  # the registry's labels
    assert [rows["unanswered", n].status for n in (1, 2)] == ["not_answered", "not_answered"]


def test_errors_are_recorded_and_the_rest_of_the_notebook_is_still_graded(graded: Any) -> None:
    rows = _rows(graded[0])
    assert rows["raises", 1].status == "error" and "ZeroDivisionError" in rows["raises", 1].reason
    assert rows["loops", 1].status == "error" and "CellTimeoutError" in rows["loops", 1].reason
    assert rows["allocates", 1].status == "error" and "MemoryError" in rows["allocates", 1].reason
    for student in ("raises", "loops", "allocates"):  # the kernel survived: exercise 2 is graded
        assert rows[student, 2].status == "correct", rows[student, 2]


def test_a_dead_or_stuck_kernel_costs_only_its_own_grades(graded: Any) -> None:
    rows = _rows(graded[0])
    for n in (1, 2):
        assert rows["kernel_dies", n].status == "error" and "kernel died" in rows["kernel_dies", n].reason
    # the cell is interrupted at the cell limit but ignores it; the notebook limit ends the notebook
    assert rows["ignores_interrupt", 1].status == "error" and "timed out" in rows["ignores_interrupt", 1].reason
    assert rows["ignores_interrupt", 2].status == "error"
    assert "notebook time limit" in rows["ignores_interrupt", 2].reason
    assert rows["right", 1].status == "correct"  # graded before and after them (sorted names)


def test_output_is_bounded_and_does_not_hide_the_answer(graded: Any) -> None:
    book = graded[0]
    rows = _rows(book)
    assert rows["prints_100mb", 1].status == "correct"
    assert len(book.to_csv()) < 10_000 and len(book.to_table()) < 10_000


def test_the_grader_does_not_trust_the_students_check_or_equality(graded: Any) -> None:
    rows = _rows(graded[0])
    assert rows["redefines_check", 1].status == "wrong"
    assert rows["redefines_check", 2].status == "error" and "Always" in rows["redefines_check", 2].reason


def test_files_deleted_by_a_submission_are_only_its_temporary_copy(graded: Any) -> None:
    book, before, after = graded
    assert before == after  # every submitted file is still there, byte for byte
    rows = _rows(book)
    assert rows["deletes_files", 1].status == "correct" and rows["deletes_files", 2].status == "correct"


def test_no_network_from_a_submission(graded: Any) -> None:
    rows = _rows(graded[0])
    assert rows["uses_network", 1].status == "error" and "URLError" in rows["uses_network", 1].reason
    assert rows["uses_network", 2].status == "correct"


def test_broken_json_and_a_different_lesson_get_rows_with_reasons(graded: Any) -> None:
    rows = _rows(graded[0])
    for n in (1, 2):
        assert rows["not_json", n].status == "error" and "not a valid notebook" in rows["not_json", n].reason
        assert rows["other_lesson", n].status == "error" and OTHER in rows["other_lesson", n].reason


def test_per_exercise_counts_in_the_table(graded: Any) -> None:
    book = graded[0]
    rows = _rows(book)
    students = sorted({g.student for g in book.grades})
    table = book.to_table()
    right = [sum(rows[s, n].status == "correct" for s in students) for n in (1, 2)]
    assert f"| 正解した人数 | {right[0]}/{len(students)} | {right[1]}/{len(students)} | |" in table
    assert "| right | ✅ | ✅ | 2/2 |" in table and "| unanswered | ⏳ | ⏳ | 0/2 |" in table


def test_a_rerun_gives_the_same_gradebook_bytes(graded: Any, classroom_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    lessons, subs = classroom_dirs
    first = grading.write_gradebook(graded[0], tmp_path / "first")
    again = grade(subs, lessons_dir=lessons, model="standin", limits=TEST_LIMITS)
    second = grading.write_gradebook(again, tmp_path / "second")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    parsed = list(csv.DictReader(io.StringIO(first[0].read_text(encoding="utf-8"))))
    assert len(parsed) == len(graded[0].grades)


# ------------------------------------------------------------------ the real tokenizer lesson 04-07


def test_grade_the_real_tokenizer_lesson_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "handout",
                str(notebooks_dir() / "04-07_encode_decode.ipynb"),
                str(notebooks_dir() / "04-09_padding.ipynb"),
                "--out",
                str(tmp_path / "handout"),
            ]
        )
        == 0
    )
    lesson_blank = _read(tmp_path / "handout" / "04-07_encode_decode.ipynb")
    subs = tmp_path / "subs"
    # the solutions printed in the lesson's <details> blocks
    students = {
        "aoi": ("answer = 11", "answer2 = '明日 の 天気 は 晴れ だ 。'"),
        "ren": ("answer = 9", "answer2 = '明日の天気は晴れだ。'"),
    }
    for name, (first, second) in students.items():
        (subs / name).mkdir(parents=True)
        write(subs / name / "04-07_encode_decode.ipynb", fill(lesson_blank, first, second))
    (subs / "aoi" / "00_index.ipynb").write_bytes((notebooks_dir() / "00_index.ipynb").read_bytes())  # no exercises
    (subs / "ren" / "notes.ipynb").write_text("{}", encoding="utf-8")  # not a lesson
    (subs / "sora").mkdir()
    (subs / "sora" / "04-07_encode_decode.ipynb").write_bytes(
        (tmp_path / "handout" / "04-09_padding.ipynb").read_bytes()
    )
    code = main(
        [
            "grade",
            str(subs),
            "--out",
            str(tmp_path / "grades"),
            "--model",
            "standin",
            "--cell-timeout",
            "60",
            "--notebook-timeout",
            "300",
            "--memory-mb",
            "4096",
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO((tmp_path / "grades" / "gradebook.csv").read_text(encoding="utf-8"))))
    status = {(r["student"], r["exercise"]): r["status"] for r in rows}
    assert status == {
        ("aoi", "1"): "correct",
        ("aoi", "2"): "correct",
        ("ren", "0"): "error",
        ("ren", "1"): "wrong",
        ("ren", "2"): "wrong",
        ("sora", "1"): "error",
        ("sora", "2"): "error",
    }
    assert [r["file"] for r in rows if r["exercise"] == "0"] == ["notes.ipynb"]
    assert "| 正解した人数 | 1/3 | 1/3 | |" in table
    assert (tmp_path / "grades" / "gradebook.md").read_text(encoding="utf-8") in table


def test_grade_reports_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(GradingError):
        grade(tmp_path / "nowhere", lessons_dir=notebooks_dir(), model="standin")
    assert main(["grade", str(tmp_path / "nowhere"), "--out", str(tmp_path), "--model", "standin"]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert issubclass(GradingError, JbertError) and issubclass(HandoutError, JbertError)


# ------------------------------------------------------------------------------- small pieces


def test_wire_reads_plain_data_and_refuses_objects() -> None:
    class Sneaky(str):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = str.__hash__

    assert json.loads(sandbox.wire("a", {"a": Sneaky("x")})) == {"kind": "value", "repr": "'x'"}
    assert json.loads(sandbox.wire("a", {"a": object()}))["kind"] == "unsupported"
    assert json.loads(sandbox.wire("a", {"a": "x" * 200_000}))["kind"] == "too_large"
    loop: list[Any] = []
    loop.append(loop)
    assert json.loads(sandbox.wire("a", {"a": loop}))["kind"] == "unsupported"


def test_sandbox_kernel_caps_what_a_cell_prints_and_its_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from jupyter_client.manager import KernelManager

    spec_dir = tmp_path / "kernels" / "capped"
    spec_dir.mkdir(parents=True)
    argv = [
        sys.executable,
        "-m",
        "jbert_helpers.tools.sandbox",
        "--memory-mb",
        "1024",
        "--output-chars",
        "1000",
        "-f",
        "{connection_file}",
    ]
    (spec_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "capped", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    km = KernelManager(kernel_name="capped")
    km.start_kernel()
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        streams: list[str] = []

        def keep(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                streams.append(msg["content"]["text"])

        kc.execute_interactive("print('x' * 5_000_000)\nprint('second')", timeout=60, output_hook=keep)
        text = "".join(streams)
        assert text.startswith("x" * 1000) and "x" * 1001 not in text
        assert text.count(sandbox.OUTPUT_NOTE.strip()) == 1 and "second" not in text
        streams.clear()
        reply = kc.execute_interactive("import os\nprint(os.getcwd() != '', 'next cell')", timeout=60, output_hook=keep)
        assert "".join(streams) == "True next cell\n"  # the budget is per cell
        reply = kc.execute_interactive("block = bytearray(2 * 1024**3)", timeout=60, output_hook=keep)
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "MemoryError"
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)


def test_without_a_network_namespace_proxies_still_block_the_network(
    classroom_dirs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lessons, subs = classroom_dirs
    few = tmp_path / "few"
    for student in ("right", "uses_network"):
        (few / student).mkdir(parents=True)
        (few / student / f"{LESSON}.ipynb").write_bytes((subs / student / f"{LESSON}.ipynb").read_bytes())
    monkeypatch.setattr(grading, "network_namespace_available", lambda: False)
    rows = _rows(grade(few, lessons_dir=lessons, model="standin", limits=TEST_LIMITS, unconfined=True))
    assert rows["right", 1].status == rows["right", 2].status == "correct"
    assert rows["uses_network", 1].status == "error" and "URLError" in rows["uses_network", 1].reason
    assert "Connection refused" in rows["uses_network", 1].reason  # the proxy on a closed port


def test_a_deleted_answer_cell_never_reuses_the_previous_exercises_answer() -> None:
    """04-14's two exercises both use ``answer`` (float16 size in MB, then a parameter count)."""
    lesson = _read(notebooks_dir() / "04-14_load_model_device.ipynb")
    first, second = find_exercises(lesson)
    assert first.variable == second.variable == "answer"
    submission = fill(make_handout(lesson), "answer = 221.2", None)
    assert second.answer_cell is not None
    del submission.cells[second.answer_cell]  # the second answer cell is gone: `answer` still holds 221.2
    for cell in submission.cells:
        cell.id = cell.id + "x"  # as if the ids were lost on the way
    sub_first, sub_second = find_exercises(submission)
    assert grading._answer_cell(submission, first, sub_first) == first.answer_cell
    assert grading._answer_cell(submission, second, sub_second) is None
    result = {"answers": {"2": {"kind": "value", "repr": "221.2"}}, "cell_errors": {}, "stopped": None}
    status, reason = grading._judge(second, sub_second, None, result, 24_576_000, 15)
    assert status == "not_answered" and "answer cell is missing" in reason


def test_a_lesson_that_does_not_run_stops_grading_with_the_cell(tmp_path: Path) -> None:
    lessons = copy_lessons(tmp_path / "lessons", LESSON)
    broken = _read(lessons / f"{LESSON}.ipynb")
    [index] = [i for i, c in enumerate(broken.cells) if c.source.startswith("input_ids = tokenizer.encode(")]
    broken.cells[index].source = "input_ids = undefined_name"
    nbformat.write(broken, lessons / f"{LESSON}.ipynb")
    write(tmp_path / "subs" / "aoi" / f"{LESSON}.ipynb", fill(make_handout(broken), RIGHT_1, RIGHT_2))
    with pytest.raises(GradingError, match=rf"セル {index}: NameError"):
        grade(tmp_path / "subs", lessons_dir=lessons, model="standin", limits=TEST_LIMITS)


def test_an_exercise_with_a_tensor_answer_gets_an_error_row_not_a_failed_run() -> None:
    """04-18a's answers are tensors (compared with a tolerance by the check cell): the grader says it
    cannot grade them, row by row, instead of stopping the whole gradebook; 04-07 beside it is graded."""
    lessons = {}
    for stem in ("04-18a_inside_bert", LESSON):
        path = notebooks_dir() / f"{stem}.ipynb"
        nb = _read(path)
        lessons[stem] = grading.Lesson(stem, path, None, tuple(find_exercises(nb)), frozenset())
    tensor = {"kind": "unsupported", "type": "torch.Tensor"}
    # what the lessons' expected-values runs read back: 04-18a's answers are tensors, 04-07's plain data
    wired = {
        "04-18a_inside_bert": {"1": tensor, "2": tensor},
        LESSON: {
            "1": {"kind": "value", "repr": "11"},
            "2": {"kind": "value", "repr": repr("明日 の 天気 は 晴れ だ 。")},
        },
    }

    class _FakeRunner:
        def run(self, path: Path, *args: object, **kwargs: object) -> dict:
            return {"answers": wired[Path(path).stem], "stopped": None}

    values = grading._expected_values(_FakeRunner(), lessons["04-18a_inside_bert"])  # type: ignore[arg-type]
    assert values == {1: grading.NotGradable("torch.Tensor"), 2: grading.NotGradable("torch.Tensor")}
    plain = grading._expected_values(_FakeRunner(), lessons[LESSON])  # type: ignore[arg-type]
    assert plain == {1: 11, 2: "明日 の 天気 は 晴れ だ 。"}
    first, second = lessons["04-18a_inside_bert"].exercises
    result: dict[str, Any] = {"answers": {"1": tensor, "2": tensor}, "cell_errors": {}, "stopped": None}
    for e in (first, second):
        status, reason = grading._judge(e, e, e.answer_cell, result, values[e.number], 15)
        assert status == "error" and "torch.Tensor" in reason and "確認セル" in reason
    result["answers"]["1"] = {"kind": "value", "repr": "1"}  # even an answer equal to nothing gradable
    assert grading._judge(first, first, first.answer_cell, result, values[1], 15)[0] == "error"
    tokenizer_first = lessons[LESSON].exercises[0]
    answered = {"answers": {"1": {"kind": "value", "repr": "11"}}, "cell_errors": {}, "stopped": None}
    assert grading._judge(tokenizer_first, tokenizer_first, tokenizer_first.answer_cell, answered, plain[1], 15) == (
        "correct",
        "",
    )


def test_only_the_lessons_check_form_is_an_exercise(tmp_path: Path) -> None:
    """A check cell is ``check_exercise("<key>", <variable>, …)``; any other call (an old
    ``check(answer, EXPECTED)``, a key that is not a literal) is not an exercise, and a folder whose
    notebooks have no exercise is refused."""
    nb = new_notebook(
        cells=[
            new_markdown_cell("# 9-1 古い形"),
            new_code_cell("answer = ...  # ここに答えを書く"),
            new_code_cell("from jbert_helpers.exercises import check\n\ncheck(answer, 11, what='系列長')"),
            new_code_cell("key = '04-07-1'\ncheck_exercise(key, answer, tokenizer=tokenizer)"),
        ]
    )
    assert find_exercises(nb) == []
    assert [c.source for c in make_handout(nb).cells] == [c.source for c in nb.cells]
    (tmp_path / "lessons").mkdir()
    nbformat.write(nb, tmp_path / "lessons" / "09-01_old.ipynb")
    with pytest.raises(GradingError, match="no lessons with exercises"):
        grading.load_lessons(tmp_path / "lessons")
    nb.cells[3].source = "check_exercise('04-07-1', answer, tokenizer=tokenizer)"
    [exercise] = find_exercises(nb)
    assert (exercise.variable, exercise.what, exercise.check_cell, exercise.answer_cell) == ("answer", "系列長", 3, 1)
