"""``jbert grade`` against mischievous submissions (issue 19): each attack class of the issue, in one class.

The attackers hand in the real lesson 04-07 (``check_exercise("04-07-1", answer, tokenizer=tokenizer)``)
next to two honest students. Each attack sets ``answer`` to the right value (11) only if the attack
worked, so a defended attack gives ❌ (or an error with its reason). The honest students' rows must be
the same as in a run without the attackers; no file of the checkout's package, the environment, the
lessons or the output folder may change; no process an attacker started may be left.

Where the sandbox cannot be set up (no bubblewrap, no namespaces) these tests are skipped with
"NOT RUN: <reason>" and :func:`test_grade_refuses_without_the_sandbox` checks that the grader refuses.
"""

from __future__ import annotations

import compileall
import hashlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from lesson_copies import blank, copy_lessons, fill, write

from jbert_helpers.errors import GradingError
from jbert_helpers.tools import grading, sandbox
from jbert_helpers.tools.grading import Limits, grade, write_gradebook
from jbert_helpers.tools.refresh import notebooks_dir

PROBLEM = sandbox.sandbox_problem()
needs_sandbox = pytest.mark.skipif(PROBLEM is not None, reason=f"NOT RUN: {PROBLEM}")
if PROBLEM is not None:  # said on the console too, not only in -rs
    print(f"\ngrading attack tests NOT RUN: {PROBLEM}", file=sys.stderr)

LESSON = "04-07_encode_decode"
LIMITS = Limits(cell_timeout=60, notebook_timeout=240, startup_timeout=120, memory_mb=3072, tmp_mb=256)
MARK = "jbert-attack-marker"
RIGHT_2 = "answer2 = '明日 の 天気 は 晴れ だ 。'"
#: A detached process (own session): the sandbox's PID namespace must end it.
DETACH = (
    "import subprocess, sys\n"
    "subprocess.Popen([sys.executable, '-c', {code!r} + '  # " + MARK + "'], start_new_session=True,\n"
    "                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
)


def _attacks(out_dir: Path, socket_path: Path, abstract: str) -> dict[str, str]:
    forge = (
        "import glob, json, time\n"
        "for _ in range(600):\n"
        "    for d in glob.glob('/tmp/jbert-grade-*/private/*') + glob.glob('/tmp/jbert-grade-*/chan/*'):\n"
        "        try:\n"
        "            open(d + '/result.json', 'w').write(json.dumps({'answers': {'1': {'kind': 'value', 'repr': '11'}}, "
        "'cell_errors': {}, 'stopped': None, 'done': True}))\n"
        "        except OSError:\n"
        "            pass\n"
        "    time.sleep(0.2)\n"
    )
    rewrite = (
        "import time\n"
        "for _ in range(100):\n"
        "    time.sleep(0.3)\n"
        "    for name in ('gradebook.csv', 'gradebook.md'):\n"
        "        try:\n"
        f"            open({str(out_dir)!r} + '/' + name, 'w').write('forged')\n"
        "        except OSError:\n"
        "            pass\n"
    )
    return {
        "key_import": (
            "from jbert_helpers.exercises import expected_answer\n\n"
            "answer = expected_answer('04-07-1', tokenizer=tokenizer)"
        ),
        "key_read": (
            "import jbert_helpers, glob, os\n"
            "pkg = os.path.dirname(jbert_helpers.__file__)\n"
            "texts = [open(p, errors='replace').read() for p in glob.glob(pkg + '/**/*', recursive=True) if os.path.isfile(p)]\n"
            "answer = 11 if any('_sequence_length' in t for t in texts) else 0"
        ),
        "grader_tmp": (
            "import glob\n"
            "found = glob.glob('/tmp/jbert-grade-*/private/*/*') + glob.glob('/tmp/jbert-grade-*/staged/*/*')\n"
            "found += glob.glob('/tmp/pytest-of-*/**/*.ipynb', recursive=True)\n"
            "answer = 11 if found else 0"
        ),
        "forges_results": DETACH.format(code=forge) + "answer = 0",
        "edits_checkout": (
            "import jbert_helpers, os, sys\n"
            "pkg = os.path.dirname(jbert_helpers.__file__)\n"
            "wrote = 0\n"
            "for path in (pkg + '/exercises.py', pkg + '/__init__.py', sys.prefix + '/pyvenv.cfg'):\n"
            "    try:\n"
            "        open(path, 'a').write('\\nEXPECTED = 0\\n')\n"
            "        wrote += 1\n"
            "    except OSError:\n"
            "        pass\n"
            "answer = 11 if wrote else 0"
        ),
        "rewrites_gradebook": DETACH.format(code=rewrite) + "answer = 0",
        "stops_grader": (
            "import os, signal\n"
            "hit = 0\n"
            "for p in os.listdir('/proc'):\n"
            "    if p.isdigit() and int(p) != os.getpid():\n"
            "        try:\n"
            "            cmd = open(f'/proc/{p}/cmdline', 'rb').read()\n"
            "            if b'grading' in cmd or b'pytest' in cmd:\n"
            "                os.kill(int(p), signal.SIGSTOP)\n"
            "                hit += 1\n"
            "        except OSError:\n"
            "            pass\n"
            "answer = 11 if hit else 0"
        ),
        "host_socket": (
            "import socket\n"
            "ok = 0\n"
            f"for addr in ({str(socket_path)!r}, {abstract!r}, '/var/run/docker.sock', '/run/dbus/system_bus_socket'):\n"
            "    s = socket.socket(socket.AF_UNIX)\n"
            "    try:\n"
            "        s.connect(addr)\n"
            "        ok += 1\n"
            "    except OSError:\n"
            "        pass\n"
            "answer = 11 if ok else 0"
        ),
        "memory_together": (
            "import os, time\n"
            "kids = []\n"
            "for _ in range(6):  # 6 x 700 MB, each under the per-process limit, 4.2 GB together\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        block = bytearray(700 * 2**20)\n"
            "        for i in range(0, len(block), 4096):\n"
            "            block[i] = 1\n"
            "        time.sleep(8)  # hold it while the others allocate theirs\n"
            "        os._exit(0)\n"
            "    kids.append(pid)\n"
            "ok = sum(os.waitstatus_to_exitcode(os.waitpid(k, 0)[1]) == 0 for k in kids)\n"
            "answer = 11 if ok == 6 else 0"
        ),
        "fork_many": (
            "import subprocess, sys\n"
            "procs = []\n"
            "try:\n"
            "    for _ in range(400):\n"
            "        procs.append(subprocess.Popen(['sleep', '30']))\n"
            "except OSError:\n"
            "    pass\n"
            "n = len(procs)\n"
            "for p in procs:\n"
            "    p.kill()\n"
            "answer = 11 if n >= 400 else 0"
        ),
        "litters_tmp": (
            "import os\n"
            "made = 0\n"
            "try:\n"
            f"    os.makedirs('/tmp/{MARK}', exist_ok=True)\n"
            "    for i in range(3000):\n"
            f"        open(f'/tmp/{MARK}/{{i}}', 'w').close()\n"
            "        made += 1\n"
            f"    with open('/tmp/{MARK}/big', 'wb') as f:\n"
            "        for _ in range(400):\n"
            "            f.write(b'x' * 2**20)\n"
            "except OSError:\n"
            "    pass\n"
            "answer = 11 if made == 3000 and os.path.getsize('/tmp/" + MARK + "/big') >= 400 * 2**20 else 0"
        ),
    }


def _digest(folder: Path, *, contents: bool = True) -> dict[str, str]:
    """Every file under ``folder`` (bytes or size+mtime). Byte code another Python version writes there (make
    other-pythons running beside this test on a developer's machine) is not the submission's doing: skipped."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.suffix == ".pyc" and sys.implementation.cache_tag not in p.name:
            continue
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() if contents else f"{st.st_size}:{st.st_mtime_ns}"
    return out


def _marked_processes() -> list[str]:
    found = []
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != os.getpid():
            try:
                cmd = Path(f"/proc/{p}/cmdline").read_bytes()
            except OSError:
                continue
            if MARK.encode() in cmd and b"pytest" not in cmd:
                found.append(f"{p}: {cmd[:120]!r}")
    return found


def _fill(handout_nb: Any, first: str, second: str = RIGHT_2) -> Any:
    return fill(handout_nb, first, second)


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("attacks")
    lessons = copy_lessons(root / "lessons", LESSON)
    handout_nb = blank(lessons / f"{LESSON}.ipynb")
    honest = {"aoi": "answer = 11", "ren": "answer = 9"}
    base, subs, out = root / "base", root / "subs", root / "out"
    out.mkdir()
    (out / "earlier.txt").write_text("an earlier file in the output folder", encoding="utf-8")
    for name, first in honest.items():
        write(base / name / f"{LESSON}.ipynb", _fill(handout_nb, first))
        write(subs / name / f"{LESSON}.ipynb", _fill(handout_nb, first))
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "host.sock"))
    listener.listen(8)
    abstract = f"\0jbert-attack-{os.getpid()}"
    abstract_listener = socket.socket(socket.AF_UNIX)
    abstract_listener.bind(abstract)
    abstract_listener.listen(8)
    for name, code in _attacks(out, root / "host.sock", abstract).items():
        write(subs / name / f"{LESSON}.ipynb", _fill(handout_nb, code))
    # malformed input
    deep = _fill(handout_nb, "answer = x" + ".a" * 200_000)
    write(subs / "deep_nesting" / f"{LESSON}.ipynb", deep)
    raw = json.loads(nbformat.writes(_fill(handout_nb, "answer = 11")))
    del raw["cells"][3]["cell_type"]
    (subs / "no_cell_type").mkdir()
    (subs / "no_cell_type" / f"{LESSON}.ipynb").write_text(json.dumps(raw), encoding="utf-8")
    raw = json.loads(nbformat.writes(_fill(handout_nb, "answer = 11")))
    raw["cells"][3]["source"] = {"not": "text"}
    (subs / "source_not_text").mkdir()
    (subs / "source_not_text" / f"{LESSON}.ipynb").write_text(json.dumps(raw), encoding="utf-8")
    many = _fill(handout_nb, "answer = 11")
    many.cells += [nbformat.v4.new_code_cell("check_exercise('04-07-1', answer)\n" * 5) for _ in range(4000)]
    write(subs / "checks_20000" / f"{LESSON}.ipynb", many)
    bad_name = os.fsdecode(b"bad\xff")
    write(subs / bad_name / f"{LESSON}.ipynb", _fill(handout_nb, "answer = 11"))
    (subs / "links").mkdir()
    (subs / "links" / f"{LESSON}.ipynb").symlink_to(subs / "aoi" / f"{LESSON}.ipynb")
    (subs / "linked_folder").symlink_to(subs / "aoi")

    package = Path(sandbox.package_dir())
    # Byte code for every module first: a test running beside this one that imports a module for the first time
    # would otherwise write a new .pyc into the package during the run (which is not the attackers' doing).
    compileall.compile_dir(package, quiet=1)
    watched = {"package": package, "lessons": lessons, "submissions": subs}
    before = {k: _digest(v) for k, v in watched.items()}
    venv_before = _digest(Path(sys.prefix), contents=False)
    before_tmp = set(os.listdir("/tmp"))
    start = time.monotonic()
    baseline = grade(base, lessons_dir=lessons, model="standin", limits=LIMITS)
    book = grade(subs, lessons_dir=lessons, model="standin", limits=LIMITS)
    csv_path, md_path = write_gradebook(book, out)
    written = {p: p.read_bytes() for p in (csv_path, md_path)}
    seconds = time.monotonic() - start
    time.sleep(3)  # a left-over process would have rewritten the gradebook by now
    for g in book.grades:
        print(f"{g.student:20} #{g.exercise} {g.status:13} {g.reason[:110]}")
    listener.close()
    abstract_listener.close()
    return {
        "book": book,
        "baseline": baseline,
        "rows": {(g.student, g.exercise): g for g in book.grades},
        "changed": {k: before[k] != _digest(v) for k, v in watched.items()},
        "venv_changed": venv_before != _digest(Path(sys.prefix), contents=False),
        "gradebook_same": all(p.read_bytes() == data for p, data in written.items()),
        "earlier_same": (out / "earlier.txt").read_text(encoding="utf-8") == "an earlier file in the output folder",
        "new_tmp": {n for n in set(os.listdir("/tmp")) - before_tmp if MARK in n},
        "processes": _marked_processes(),
        "seconds": seconds,
        "bad_name": bad_name,
    }


ATTACKERS = [
    "key_import",
    "key_read",
    "grader_tmp",
    "forges_results",
    "edits_checkout",
    "rewrites_gradebook",
    "stops_grader",
    "host_socket",
    "memory_together",
    "fork_many",
    "litters_tmp",
]


@needs_sandbox
@pytest.mark.parametrize("attacker", ATTACKERS)
def test_an_attack_gets_no_right_answer(attacked: dict[str, Any], attacker: str) -> None:
    row = attacked["rows"][attacker, 1]
    if attacker == "memory_together" and not grading.cgroup_available():
        pytest.skip("NOT RUN: no writable cgroup here; memory is limited per process only (RLIMIT_AS)")
    assert row.status in ("wrong", "error"), row
    assert row.reason, row
    if attacker == "key_import":
        assert row.status == "error" and "ExerciseError" in row.reason and "answer key" in row.reason
    assert row.sandbox == "bwrap"


@needs_sandbox
def test_other_students_rows_are_the_same_as_without_the_attackers(attacked: dict[str, Any]) -> None:
    honest = [g for g in attacked["book"].grades if g.student in ("aoi", "ren")]
    assert honest == attacked["baseline"].grades
    assert [g.status for g in honest] == ["correct", "correct", "wrong", "correct"]
    rows = attacked["rows"]
    for attacker in ATTACKERS:  # the attacker's own second exercise is still graded
        if attacker not in ("fork_many", "memory_together"):
            assert rows[attacker, 2].status == "correct", rows[attacker, 2]


@needs_sandbox
def test_no_file_outside_the_sandbox_changed_and_no_process_is_left(attacked: dict[str, Any]) -> None:
    assert attacked["changed"] == {"package": False, "lessons": False, "submissions": False}
    assert not attacked["venv_changed"]
    assert attacked["gradebook_same"] and attacked["earlier_same"]
    assert attacked["new_tmp"] == set()
    assert attacked["processes"] == []


@needs_sandbox
def test_malformed_input_gets_rows_and_never_stops_the_class(attacked: dict[str, Any]) -> None:
    rows = attacked["rows"]
    assert rows["deep_nesting", 1].status == "error"
    assert "cell_type" in rows["no_cell_type", 1].reason and rows["no_cell_type", 1].status == "error"
    assert "not text" in rows["source_not_text", 1].reason
    assert rows["checks_20000", 1].status == "correct"  # analysed in linear time, then graded
    shown = grading._shown_name(attacked["bad_name"])
    assert rows[shown, 1].status == "correct" and shown == "bad\\xff"
    csv_text = attacked["book"].to_csv()
    csv_text.encode("utf-8")  # valid UTF-8
    assert "bad\\xff" in csv_text
    links = [g for g in attacked["book"].grades if "not followed" in g.reason]
    assert {(g.student, g.file) for g in links} == {("links", f"{LESSON}.ipynb"), ("linked_folder", "")}


@needs_sandbox
def test_the_answer_key_is_a_stub_inside_and_the_real_one_outside() -> None:
    import jbert_helpers.exercises as real

    stub: dict[str, Any] = {}
    exec(
        compile(sandbox.EXERCISES_STUB, "stub", "exec"),
        {"__name__": "jbert_helpers.x", "__package__": "jbert_helpers"} | stub,
    )
    assert "_sequence_length" not in sandbox.EXERCISES_STUB and "EXERCISES" in real.__dict__
    assert "TENSOR_ATOL = 1e-5" in sandbox.EXERCISES_STUB and real.TENSOR_ATOL == 1e-5


def test_grade_refuses_without_the_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "subs" / "aoi").mkdir(parents=True)
    monkeypatch.setenv("JBERT_BWRAP", str(tmp_path / "no-bwrap"))
    assert sandbox.sandbox_problem() is not None and "bubblewrap" in (sandbox.sandbox_problem() or "")
    with pytest.raises(GradingError, match="--unconfined"):
        grade(tmp_path / "subs", lessons_dir=notebooks_dir(), model="standin")


def test_unconfined_is_recorded_on_every_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JBERT_BWRAP", str(tmp_path / "no-bwrap"))
    lessons = copy_lessons(tmp_path / "lessons", LESSON)
    handout_nb = blank(lessons / f"{LESSON}.ipynb")
    # the answer-key attack, which the sandbox stops, works without it: the sandboxed test can fail
    attack = _attacks(tmp_path, tmp_path / "none.sock", "\0none")["key_import"]
    write(tmp_path / "subs" / "aoi" / f"{LESSON}.ipynb", _fill(handout_nb, attack))
    book = grade(tmp_path / "subs", lessons_dir=lessons, model="standin", limits=LIMITS, unconfined=True)
    assert book.grades and all(g.sandbox == "unconfined" for g in book.grades)
    assert [g.status for g in book.grades] == ["correct", "correct"]
    assert "unconfined" in book.to_csv() and "--unconfined" in book.to_table()
