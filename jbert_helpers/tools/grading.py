"""``jbert grade``: a gradebook from a folder of submitted notebooks, each run as untrusted code.

Layout: ``SUBMISSIONS/<student>/<lesson>.ipynb`` (one folder per student, any lessons inside;
the lesson is named by the file name, e.g. ``04-07_encode_decode.ipynb`` or ``04-07 (1).ipynb``).
The result is ``gradebook.csv`` (one row per student, lesson and exercise) and ``gradebook.md``
(a table: per student and exercise ✅ / ❌ / ⏳ not answered / ⚠️ error, per exercise how many
got it right, and the reason of every row that is not ✅).

How an answer is judged — the student's check cell is never trusted:

1. **Expected values** come from the teacher's lesson (``--lessons``, default ``notebooks/``):
   the lesson runs once in a fresh kernel (with the real answer key) with every
   ``check_exercise(KEY, answer, **objects)`` call rewritten to record
   ``expected_answer(KEY, **objects)``, computed from the lesson's own objects (its tokenizer, its
   model); the values are read back as plain data (:func:`jbert_helpers.tools.sandbox.wire`).
2. **Answers**: the submission's code cells run in order in their own kernel; just before each
   check cell runs, the grader reads the answer variable (``answer``, ``answer2``…) from the kernel
   as plain data. The comparison ``answer == expected`` happens in the grader's process, so a
   redefined ``check_exercise``, a forged "✅" or an object whose ``==`` always says yes changes nothing.

Each submission is untrusted code and runs

* in its **own kernel inside bubblewrap** (:func:`jbert_helpers.tools.sandbox.launch`): new mount,
  PID, IPC, network and UTS namespaces; uid 65534 without capabilities when the grader is root (else
  bubblewrap's user namespace); read-only ``/usr``, Python environment, package (its answer key
  replaced by :data:`~jbert_helpers.tools.sandbox.EXERCISES_STUB`) and model; a size-bounded tmpfs as
  the only writable place; limits on address space, file size, CPU time, processes and, where a
  cgroup can be made, memory and processes of all its processes together; everything it started ends
  with its PID namespace. Where this cannot be set up, :func:`grade` refuses unless ``unconfined``;
* talked to by its **own worker process** (outside the sandbox, over Unix sockets in a folder only
  that kernel sees), which sends the result back over a pipe in a strict, bounded JSON form;
* with a **time limit per cell** (the cell is interrupted and recorded as an error) and **per
  notebook** (the worker, its kernel and its sandbox are killed; what was graded is kept);
* with **no network**: an environment built from scratch (no tokens or other secrets of the teacher),
  ``HF_HUB_OFFLINE=1``, every proxy variable points to a closed port, and a network namespace with
  nothing but loopback;
* with **bounded output**: nothing a cell prints is stored, only the name and first 300
  characters of an error; an answer is read back only up to 100,000 characters.

The expected values are computed from the teacher's lessons (with the real answer key, also in the
sandbox) before any submission runs; the gradebook is written after the last one, by the caller.
docs/teachers.md lists the attacks ``tests/test_grading_attacks.py`` checks, and what is not protected.

Why nbclient and not nbgrader: nbgrader 0.9.6 installs cleanly with the pinned stack (checked
in a scratch venv with ``-c constraints.txt``: ``pip check`` clean, no pinned version moved) but
adds 6 packages, about 81 MB (nbgrader 20 MB, SQLAlchemy 29 MB, notebook 17 MB, rapidfuzz 12 MB,
alembic, Mako), and auto-enables four server extensions and a JupyterLab extension in every
``make lab``; it needs a course directory, a SQLite gradebook and per-assignment source
notebooks with its cell metadata. Its autograder runs the tests inside the student's kernel and
gives none of the limits above except a per-cell timeout and a line cap applied after the output
was already collected (no memory limit, no network limit, no per-notebook limit). The lessons'
exercises already have the shape a grader needs (an answer variable and a ``check_exercise`` call), so the
two commands are built on nbclient, which is already pinned.

Example::

    $ jbert grade submissions/ --out grades/ --model standin
    $ column -s, -t grades/gradebook.csv
"""

from __future__ import annotations

import ast
import asyncio
import csv
import dataclasses
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from jupyter_client.asynchronous import AsyncKernelClient

from ..errors import GradingError
from .classroom import Exercise, check_calls, find_exercises, lesson_code, lesson_title
from .kernelenv import NOTEBOOK_ENV

#: Status values in the gradebook, and how the table shows them.
STATUS_SYMBOL: dict[str, str] = {
    "correct": "✅",
    "wrong": "❌",
    "not_answered": "⏳",
    "error": "⚠️",
    "not_submitted": "—",
}
#: A closed port: every proxy variable of the kernel points here, so a request fails at once.
NO_NETWORK_PROXY = "http://127.0.0.1:9"
#: Environment variables passed from the grader to a student's kernel (paths only, no secrets).
PASSED_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "HF_HOME",
    "HF_HUB_CACHE",
    "JBERT_CACHE_DIR",
    "XDG_CACHE_HOME",
    "VIRTUAL_ENV",
)
MAX_SUBMISSION_BYTES = 20 * 1024 * 1024
#: The largest Jupyter message a worker reads from a kernel (a bigger print is dropped unread).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_MAX_REASON = 300
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
_WIRE_KINDS = frozenset({"value", "ellipsis", "missing", "unsupported", "too_large"})
_PROBE = "__import__('jbert_helpers.tools.sandbox', fromlist=['wire']).wire({name!r}, {namespace})"


@dataclass(frozen=True)
class Limits:
    """Limits for each submission (seconds, MiB). Tests use small ones; a class, the defaults."""

    cell_timeout: int = 120
    notebook_timeout: int = 900
    startup_timeout: int = 120
    memory_mb: int = 6144  #: per process (address space) and, where a cgroup is available, all together
    file_mb: int = 64
    tmp_mb: int = 512  #: the sandbox's only writable folder (/tmp, a tmpfs)
    max_procs: int = 256  #: processes and threads of one sandbox


@dataclass(frozen=True)
class Grade:
    """One row of the gradebook."""

    student: str
    lesson: str
    exercise: int  #: 1, 2 … ; 0 for a row about a whole file (unknown lesson, duplicate)
    what: str
    status: str  #: a key of :data:`STATUS_SYMBOL`
    reason: str
    file: str = ""  #: the submission, relative to the student's folder
    sandbox: str = ""  #: ``bwrap``, or ``unconfined`` when the teacher graded without the sandbox

    @property
    def column(self) -> str:
        """The table's column for this exercise: ``04-07 #1``."""
        return f"{lesson_code(self.lesson) or self.lesson} #{self.exercise}"


@dataclass
class Gradebook:
    """All rows, sorted by student, lesson and exercise; CSV and a readable table."""

    grades: list[Grade] = field(default_factory=list)

    CSV_FIELDS = ("student", "lesson", "exercise", "what", "status", "reason", "file", "sandbox")

    def to_csv(self) -> str:
        r"""The gradebook as CSV (UTF-8 text, ``\n`` line ends, fixed column order).

        >>> print(Gradebook([Grade("alice", "04-07_encode_decode", 1, "系列長", "correct", "")]).to_csv(), end="")
        student,lesson,exercise,what,status,reason,file,sandbox
        alice,04-07_encode_decode,1,系列長,correct,,,
        """
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.CSV_FIELDS)
        for g in self.grades:
            writer.writerow([g.student, g.lesson, g.exercise, g.what, g.status, g.reason, g.file, g.sandbox])
        return buf.getvalue()

    def to_table(self) -> str:
        """A Markdown table: students × exercises, per-exercise counts, then every reason.

        >>> book = Gradebook([Grade("alice", "04-07_encode_decode", 1, "系列長", "correct", ""),
        ...                   Grade("bob", "04-07_encode_decode", 1, "系列長", "wrong", "答え 12 (正解 13)")])
        >>> print(book.to_table())
        | 生徒 | 04-07 #1 | 正解 |
        |---|---|---|
        | alice | ✅ | 1/1 |
        | bob | ❌ | 0/1 |
        | 正解した人数 | 1/2 | |
        <BLANKLINE>
        04-07 #1 = 04-07_encode_decode 演習 1: 系列長
        <BLANKLINE>
        ✅ 正解 · ❌ 不正解 · ⏳ 未回答 · ⚠️ エラー · — 未提出
        <BLANKLINE>
        理由:
        - bob 04-07 #1 ❌: 答え 12 (正解 13)
        """
        cells = [g for g in self.grades if g.exercise > 0]
        columns: dict[str, Grade] = {}
        for g in sorted(cells, key=lambda g: (g.lesson, g.exercise)):
            columns.setdefault(g.column, g)
        students = sorted({g.student for g in self.grades})
        by_key = {(g.student, g.column): g for g in cells}
        lines = ["| 生徒 | " + " | ".join(columns) + " | 正解 |", "|---" * (len(columns) + 2) + "|"]
        for s in students:
            row = [by_key.get((s, c)) for c in columns]
            marks = [STATUS_SYMBOL[g.status] if g else "" for g in row]
            right = sum(1 for g in row if g and g.status == "correct")
            lines.append(f"| {s} | " + " | ".join(marks) + f" | {right}/{len(columns)} |")
        counts = []
        for c in columns:
            right = sum(1 for s in students if (got := by_key.get((s, c))) is not None and got.status == "correct")
            counts.append(f"{right}/{len(students)}")
        lines.append("| 正解した人数 | " + " | ".join(counts) + " | |")
        lines.append("")
        lines += [f"{c} = {g.lesson} 演習 {g.exercise}: {g.what}" for c, g in columns.items()]
        lines += ["", "✅ 正解 · ❌ 不正解 · ⏳ 未回答 · ⚠️ エラー · — 未提出"]
        if any(g.sandbox == "unconfined" for g in self.grades):
            lines += ["", "⚠️ 隔離なしで採点しました (--unconfined) / graded WITHOUT the sandbox"]
        notes = [g for g in self.grades if g.status not in ("correct", "not_submitted")]
        if notes:
            lines += ["", "理由:"]
            for g in notes:
                where = g.column if g.exercise else (g.file or g.lesson)
                lines.append(f"- {g.student} {where} {STATUS_SYMBOL[g.status]}: {g.reason}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Lesson:
    """A lesson as the grader knows it (from the teacher's copy)."""

    stem: str
    path: Path
    title: str | None
    exercises: tuple[Exercise, ...]
    code: frozenset[str]


def load_lessons(lessons_dir: Path) -> dict[str, Lesson]:
    """Every ``*.ipynb`` of ``lessons_dir`` with at least one exercise, by file stem."""
    import nbformat

    lessons = {}
    for path in sorted(Path(lessons_dir).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        exercises = tuple(find_exercises(nb))
        if exercises:
            code = frozenset(c.source for c in nb.cells if c.cell_type == "code" and c.source.strip())
            lessons[path.stem] = Lesson(path.stem, path, lesson_title(nb), exercises, code)
    if not lessons:
        raise GradingError(
            f"{lessons_dir} に演習のあるレッスンがありません / no lessons with exercises in {lessons_dir}"
        )
    return lessons


def named_lesson(file_name: str, lessons: dict[str, Lesson]) -> str | None:
    """The lesson a submitted file's name says it is (exact stem, else the section code), or None.

    >>> named_lesson("04-07 (1).ipynb", {"04-07_encode_decode": None, "04-09_padding": None})
    '04-07_encode_decode'
    """
    stem = Path(file_name).stem
    if stem in lessons:
        return stem
    code = lesson_code(stem)
    matches = [s for s in lessons if lesson_code(s) == code] if code else []
    return matches[0] if len(matches) == 1 else None


def _clean(text: str, *paths: str) -> str:
    """A reason as the gradebook shows it: one line, no temp paths or addresses, bounded."""
    for p in paths:
        if p:
            text = text.replace(p, ".")
    text = _ADDRESS.sub("0x…", " ".join(text.split()))
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _kernel_env(model: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.update(NOTEBOOK_ENV)
    env["JBERT_MODEL"] = model
    env.update({"TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "NO_PROXY": "", "no_proxy": ""})
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = NO_NETWORK_PROXY
    env["PYTHONNOUSERSITE"] = "1"
    return env


def network_namespace_available() -> bool:
    """Whether ``unshare -rn`` works here (Linux with unprivileged user namespaces)."""
    exe = shutil.which("unshare")
    if not exe or not sys.platform.startswith("linux"):
        return False
    try:
        return subprocess.run([exe, "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


# ---------------------------------------------------------------------------------------------
# The worker: one process per notebook, runs it in a sandboxed kernel, writes a JSON result.
# ---------------------------------------------------------------------------------------------


def _rewrite_checks(source: str, cell_exercises: list[int]) -> str:
    """``check_exercise(KEY, a, **objects)`` → ``__jbert_record__(N, a, expected_answer(KEY, **objects))``
    (the expected-values run; ``expected_answer`` from :mod:`jbert_helpers.exercises`, the answer key).

    >>> cell = "from jbert_helpers import check_exercise\\n\\ncheck_exercise('04-07-1', answer, tokenizer=tokenizer)"
    >>> key = "__import__('jbert_helpers.exercises', fromlist=['expected_answer'])"
    >>> print(_rewrite_checks(cell, [1]).replace(key, "<answer key>"))
    from jbert_helpers import check_exercise
    __jbert_record__(1, answer, <answer key>.expected_answer('04-07-1', tokenizer=tokenizer))
    """
    calls = sorted(check_calls(source), key=lambda c: (c.lineno, c.col_offset))
    order = {(c.lineno, c.col_offset): n for c, n in zip(calls, cell_exercises, strict=True)}

    class _Rewrite(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> Any:
            self.generic_visit(node)
            key = (node.lineno, node.col_offset)
            if key not in order or not isinstance(node.func, ast.Name):
                return node
            recorder = ast.Name("__jbert_record__", ast.Load())
            fromlist = ast.keyword("fromlist", ast.List([ast.Constant("expected_answer")], ast.Load()))
            module = ast.Call(ast.Name("__import__", ast.Load()), [ast.Constant("jbert_helpers.exercises")], [fromlist])
            expected = ast.Call(ast.Attribute(module, "expected_answer", ast.Load()), [node.args[0]], node.keywords)
            return ast.Call(recorder, [ast.Constant(order[key]), node.args[1], expected], [])

    return ast.unparse(ast.fix_missing_locations(_Rewrite().visit(ast.parse(source))))


def _error_text(content: dict[str, Any]) -> str:
    """``Name: message`` of an error message's content (``Name`` alone when there is no message)."""
    name, value = str(content.get("ename", ""))[:80], str(content.get("evalue", ""))[:400]
    return f"{name}: {value}" if value else name


_RECORDER = (
    "__jbert_expected__ = {}\n"
    "def __jbert_record__(number, answer, expected):\n"
    "    __jbert_expected__[str(number)] = expected\n"
)


def _run_worker(spec: dict[str, Any]) -> None:
    """Run one notebook as ``spec`` says and keep ``spec['result']`` up to date (atomic writes)."""
    import nbformat
    import traitlets
    import zmq
    import zmq.asyncio
    from jupyter_client.asynchronous import AsyncKernelClient
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError
    from nbclient.util import ensure_async

    result: dict[str, Any] = {"answers": {}, "cell_errors": {}, "stopped": None, "done": False}
    # the result goes to the grader over this pipe (the worker's stdout), one JSON line per update;
    # anything else the worker or its libraries print goes to its log (stderr)
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)

    def save() -> None:
        channel.write(json.dumps(result, ensure_ascii=True) + "\n")
        channel.flush()

    nb = nbformat.read(spec["notebook"], as_version=4)
    expected_mode = spec["mode"] == "expected"
    probes: dict[int, list[dict[str, Any]]] = {}
    for p in spec["probes"]:
        probes.setdefault(int(p["before_cell"]), []).append(p)
    if expected_mode:
        by_cell: dict[int, list[int]] = {}
        for p in spec["probes"]:
            by_cell.setdefault(int(p["check_cell"]), []).append(int(p["exercise"]))
        for index, numbers in by_cell.items():
            nb.cells[index].source = _rewrite_checks(nb.cells[index].source, numbers)
        nb.cells.insert(0, nbformat.v4.new_code_cell(_RECORDER))
        probes = {
            len(nb.cells): [dict(p, name=str(p["exercise"]), namespace="__jbert_expected__") for p in spec["probes"]]
        }
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []

    errors: dict[int, str] = {}

    class _Client(NotebookClient):
        def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> None:
            # Nothing a cell prints is kept (bounded output); only an error's name and message.
            if msg["msg_type"] == "error":
                content = msg["content"]
                errors.setdefault(cell_index, _error_text(content))
            return None

    def on_executed(cell: Any, cell_index: int, execute_reply: dict) -> None:
        content = execute_reply.get("content", {})
        if content.get("ename") == "CellTimeoutError":
            errors[cell_index] = _error_text(content)

    class _BoundedClient(AsyncKernelClient):
        """Bounded output: a message larger than MAX_MESSAGE_BYTES is never read into the worker.

        ZeroMQ drops such a message (and the connection, which it re-opens); the output is not
        needed, and answers come back over the shell channel.
        """

        @traitlets.default("context")
        def _bounded_context(self) -> zmq.asyncio.Context:
            self._created_context = True
            context = zmq.asyncio.Context()
            context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
            return context

    km = AsyncKernelManager(kernel_name=spec["kernel_name"])
    km.client_factory = _BoundedClient
    if spec.get("ipc"):
        km.transport = "ipc"
        km.ip = spec["ipc"]
    client = _Client(
        nb,
        km=km,
        timeout=spec["cell_timeout"],
        startup_timeout=spec["startup_timeout"],
        allow_errors=True,
        interrupt_on_timeout=True,
        record_timing=False,
        iopub_timeout=10,
        shutdown_kernel="immediate",
        error_on_timeout={
            "ename": "CellTimeoutError",
            "evalue": f"{spec['cell_timeout']} 秒で終わらなかったので止めました / cell timed out",
            "traceback": [],
        },
        resources={"metadata": {"path": spec["cwd"]}},
        on_cell_executed=on_executed,
    )
    deadline = time.monotonic() + spec["notebook_timeout"] + spec["startup_timeout"]  # reset once started

    async def probe(p: dict[str, Any]) -> dict[str, Any]:
        assert client.kc is not None
        expr = _PROBE.format(name=p.get("name", p["variable"]), namespace=p.get("namespace", "globals()"))
        msg_id = client.kc.execute("", silent=True, store_history=False, user_expressions={"v": expr})
        until = min(time.monotonic() + 15, deadline)
        while True:
            left = until - time.monotonic()
            if left <= 0:
                await ensure_async(km.interrupt_kernel())
                return {"kind": "probe_failed", "why": "the kernel did not answer (still busy)"}
            try:
                msg: dict[str, Any] = await cast("AsyncKernelClient", client.kc).get_shell_msg(timeout=left)
            except Exception:  # queue.Empty
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                break
        value = msg["content"].get("user_expressions", {}).get("v", {})
        if value.get("status") != "ok":
            return {"kind": "probe_failed", "why": f"{value.get('ename', '')}: {value.get('evalue', '')}"[:300]}
        text = value.get("data", {}).get("text/plain", "")
        try:
            answer = json.loads(ast.literal_eval(text))
        except Exception:  # whatever came back, it is not what wire() writes
            answer = None
        if not isinstance(answer, dict) or answer.get("kind") not in _WIRE_KINDS:
            return {"kind": "probe_failed", "why": "answer could not be read"}
        return answer

    async def run() -> None:
        nonlocal deadline
        async with client.async_setup_kernel():
            if spec.get("seal"):  # the kernel's sockets exist: no more files in the channel folder
                os.chmod(spec["seal"], 0o550)
            # the notebook's time starts once its kernel is up (the start has its own limit)
            deadline = time.monotonic() + spec["notebook_timeout"]
            for index in range(len(nb.cells) + 1):
                for p in probes.get(index, []):
                    result["answers"][str(p["exercise"])] = await probe(p)
                    save()
                if index == len(nb.cells):
                    break
                cell = nb.cells[index]
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                left = deadline - time.monotonic()
                if left <= 1:
                    result["stopped"] = {"cell": index, "why": "notebook_timeout"}
                    return
                client.timeout = max(1, int(min(spec["cell_timeout"], left)))
                try:  # wait_for: a cell whose kernel ignores the interrupt still ends at the notebook limit
                    await asyncio.wait_for(client.async_execute_cell(cell, index), timeout=left)
                except TimeoutError:
                    result["stopped"] = {"cell": index, "why": "notebook_timeout"}
                    return
                except DeadKernelError:
                    # nbclient also reports our own cancellation (the notebook limit) as a dead kernel
                    alive = await ensure_async(km.is_alive())
                    result["stopped"] = {"cell": index, "why": "notebook_timeout" if alive else "kernel_died"}
                    return
                if index in errors:
                    result["cell_errors"][str(index)] = errors[index]
                    save()
                    tags = cell.metadata.get("tags", [])
                    if expected_mode and "raises-exception" not in tags:
                        # index - 1: the recorder cell was put in front of the lesson's cells
                        result["stopped"] = {"cell": index - 1, "why": "lesson_error", "error": errors[index]}
                        return

    try:
        asyncio.run(run())
    finally:
        result["done"] = True
        save()


def _worker_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    _run_worker(spec)


# ---------------------------------------------------------------------------------------------
# The grader: lessons' expected values, one worker per submission, rows with reasons.
# ---------------------------------------------------------------------------------------------


class _Cgroup:
    """A memory and process limit for all the processes of one kernel together (Linux cgroups).

    cgroup v1 (``memory`` and ``pids`` hierarchies) or v2 (the unified hierarchy with both
    controllers delegated); where neither can be written (not root, no delegation) there is none
    and only the per-process limits hold (``RLIMIT_AS``, ``RLIMIT_NPROC``).
    """

    def __init__(self, name: str, memory_mb: int, max_procs: int) -> None:
        self.dirs: list[Path] = []
        try:
            self._make(name, memory_mb, max_procs)
        except OSError:
            self.remove()
            self.dirs = []

    @staticmethod
    def _own() -> dict[str, str]:
        own: dict[str, str] = {}
        for line in Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                own[c] = path
        return own

    def _make(self, name: str, memory_mb: int, max_procs: int) -> None:
        if not sys.platform.startswith("linux"):
            return
        own = self._own()
        base = Path("/sys/fs/cgroup")
        memory = memory_mb * 1024 * 1024
        if "memory" in own and "pids" in own and (base / "memory").is_dir():  # v1
            mem = base / "memory" / own["memory"].lstrip("/") / name
            pids = base / "pids" / own["pids"].lstrip("/") / name
            for d in (mem, pids):
                d.mkdir()
                self.dirs.append(d)
            (mem / "memory.limit_in_bytes").write_text(str(memory))
            if (mem / "memory.memsw.limit_in_bytes").exists():
                (mem / "memory.memsw.limit_in_bytes").write_text(str(memory))
            (pids / "pids.max").write_text(str(max_procs))
        elif "" in own and (base / "cgroup.controllers").is_file():  # v2
            parent = base / own[""].lstrip("/")
            if not {"memory", "pids"} <= set((parent / "cgroup.subtree_control").read_text().split()):
                return
            d = parent / name
            d.mkdir()
            self.dirs.append(d)
            (d / "memory.max").write_text(str(memory))
            (d / "memory.swap.max").write_text("0") if (d / "memory.swap.max").exists() else None
            (d / "pids.max").write_text(str(max_procs))

    def kill_all(self) -> int:
        """SIGKILL every process still in the group; how many there were."""
        seen = 0
        for d in self.dirs:
            for _ in range(50):
                try:
                    pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                seen += len(pids)
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.05)
        return seen

    def remove(self) -> None:
        self.kill_all()
        for d in reversed(self.dirs):
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def cgroup_available() -> bool:
    """Whether a cgroup limits memory and processes of each sandbox together (see :class:`_Cgroup`)."""
    group = _Cgroup(f"jbert-probe-{os.getpid()}", 256, 16)
    ok = bool(group.dirs)
    group.remove()
    return ok


#: The largest result a worker may send (one JSON line); a bigger one is dropped unread.
MAX_RESULT_BYTES = 8 * 1024 * 1024


def _valid_result(data: Any) -> bool:
    """Whether ``data`` has exactly the shape a worker sends (strict: anything else is ignored)."""
    if not isinstance(data, dict) or set(data) != {"answers", "cell_errors", "stopped", "done"}:
        return False
    answers, errors, stopped = data["answers"], data["cell_errors"], data["stopped"]
    return (
        isinstance(answers, dict)
        and all(isinstance(k, str) and isinstance(v, dict) for k, v in answers.items())
        and isinstance(errors, dict)
        and all(isinstance(k, str) and k.isdigit() and isinstance(v, str) for k, v in errors.items())
        and (stopped is None or (isinstance(stopped, dict) and isinstance(stopped.get("why"), str)))
        and isinstance(data["done"], bool)
    )


def _read_results(stream: Any, box: list[Any]) -> None:
    """Keep the last valid result line a worker sent (bounded lines; the rest is drained unread)."""
    while True:
        line = stream.readline(MAX_RESULT_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_RESULT_BYTES or not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # drain the oversized line
                line = stream.readline(MAX_RESULT_BYTES)
            continue
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if _valid_result(data):
            box[0] = data


class _Runner:
    """Starts workers (one per notebook) under a private temporary folder.

    Each worker runs outside the sandbox and talks to its kernel, which runs inside bubblewrap
    (:func:`jbert_helpers.tools.sandbox.launch`), over Unix sockets in a channel folder; the result
    comes back over the worker's stdout. ``unconfined``: the kernel runs without bubblewrap (the
    teacher asked for it with ``--unconfined``).
    """

    def __init__(self, root: Path, model: str, limits: Limits, *, unconfined: bool = False) -> None:
        self.root = root
        self.limits = limits
        self.model = model
        self.count = 0
        self.unconfined = unconfined
        self.ipc = True if not unconfined else network_namespace_available()
        self.read_only, self.model_env = ([], {}) if unconfined else _model_folders(model, root / "model")
        self.cgroups = not unconfined

    def _kernel_spec(self, n: int, private: Path, channel: Path, answer_key: bool, cpu_seconds: int) -> dict[str, Any]:
        limits = self.limits
        if self.unconfined:
            argv = [sys.executable, "-m", "jbert_helpers.tools.sandbox", "--memory-mb", str(limits.memory_mb)]
            argv += ["--file-mb", str(limits.file_mb), "-f", "{connection_file}"]
            if self.ipc:
                argv = [shutil.which("unshare") or "unshare", "-rn", "--", *argv]
            return {"argv": argv, "env": _kernel_env(self.model)}
        from . import sandbox

        env = _kernel_env(self.model)
        for name in ("HOME", "TMPDIR", "XDG_CACHE_HOME", "VIRTUAL_ENV", "HF_HOME", "HF_HUB_CACHE", "JBERT_CACHE_DIR"):
            env.pop(name, None)
        env.update(self.model_env)
        group = _Cgroup(f"jbert-grade-{os.getpid()}-{n}", limits.memory_mb, limits.max_procs) if self.cgroups else None
        self._group = group
        plan = sandbox.build_plan(
            channel=str(channel),
            env=env,
            answer_key=answer_key,
            memory_mb=limits.memory_mb,
            file_mb=limits.file_mb,
            tmp_mb=limits.tmp_mb,
            cpu_seconds=cpu_seconds,
            max_procs=limits.max_procs,
            cgroups=[str(d) for d in group.dirs] if group else [],
            read_only=self.read_only,
        )
        plan_path = private / "plan.json"
        plan_path.write_text(json.dumps(plan), encoding="utf-8")
        argv = [
            sys.executable,
            "-m",
            "jbert_helpers.tools.sandbox",
            "--launch",
            str(plan_path),
            "-f",
            "{connection_file}",
        ]
        return {"argv": argv, "env": {"PYTHONPATH": _package_parent()}}

    def run(
        self, notebook: Path, mode: str, probes: list[dict[str, Any]], *, cell_timeout: int, notebook_timeout: int
    ) -> dict[str, Any]:
        """Run ``notebook`` in a new worker; the result, or ``stopped`` saying why it was cut short."""
        self.count += 1
        n = self.count
        private = self.root / "private" / str(n)  # the worker's files: never inside a sandbox
        private.mkdir(parents=True)
        channel = self.root / "chan" / str(n)  # the kernel's sockets: the only host folder it sees
        channel.mkdir(parents=True)
        src = private / "notebook.ipynb"
        shutil.copyfile(notebook, src)
        self._group = None
        cpu_seconds = (notebook_timeout + self.limits.startup_timeout) * max(1, os.cpu_count() or 1)
        kernel = self._kernel_spec(n, private, channel, mode == "expected", cpu_seconds)
        if not self.unconfined and os.geteuid() == 0:
            from .sandbox import SANDBOX_UID

            os.chown(channel, 0, SANDBOX_UID)  # the sandbox's uid may make sockets, never change the folder
            os.chmod(channel, 0o770)
        kernel_dir = private / "jupyter" / "kernels" / "jbert-grade"
        kernel_dir.mkdir(parents=True)
        # bubblewrap's own processes share the kernel's process group: interrupt by message, not SIGINT
        interrupt = "signal" if self.unconfined else "message"
        spec_json = {"display_name": "jbert grading sandbox", "language": "python", "interrupt_mode": interrupt}
        (kernel_dir / "kernel.json").write_text(
            json.dumps({**spec_json, **kernel}, ensure_ascii=False), encoding="utf-8"
        )
        cwd = channel  # where the kernel is started; inside the sandbox it works in /tmp/work
        if self.unconfined:
            shutil.copyfile(notebook, channel / notebook.name)
        spec = {
            "mode": mode,
            "notebook": str(src),
            "cwd": str(cwd),
            "probes": probes,
            "kernel_name": "jbert-grade",
            "cell_timeout": cell_timeout,
            "notebook_timeout": notebook_timeout,
            "startup_timeout": self.limits.startup_timeout,
            "ipc": str(channel / "kernel") if self.ipc else None,
            "seal": str(channel) if not self.unconfined and os.geteuid() == 0 else None,
        }
        spec_path = private / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        env = _kernel_env(self.model)
        env["JUPYTER_PATH"] = str(private / "jupyter")
        env["JUPYTER_RUNTIME_DIR"] = str(private / "runtime")
        env["PYTHONPATH"] = _package_parent()
        hard_limit = notebook_timeout + self.limits.startup_timeout + 30
        box: list[Any] = [None]
        with open(private / "worker.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jbert_helpers.tools.grading", "--worker", str(spec_path)],
                cwd=private,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
            reader = threading.Thread(target=_read_results, args=(proc.stdout, box), daemon=True)
            reader.start()
            killed = False
            try:
                proc.wait(timeout=hard_limit)
            except subprocess.TimeoutExpired:
                killed = True
            finally:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the worker and anything left in its group
                except ProcessLookupError:
                    pass
                proc.wait()
                if self._group is not None:
                    self._group.remove()  # anything of the sandbox still running (none: its PID namespace ended)
                reader.join(timeout=10)
                if proc.stdout is not None:
                    proc.stdout.close()
        result: dict[str, Any] = box[0] or {"answers": {}, "cell_errors": {}, "stopped": None, "done": False}
        if killed:
            result["stopped"] = {"cell": None, "why": "notebook_timeout"}
        elif not result.get("done") and not result.get("stopped"):
            result["stopped"] = {"cell": None, "why": "worker_died"}
        elif result.get("done") and not result.get("stopped") and proc.returncode != 0:
            log_tail = (private / "worker.log").read_text(encoding="utf-8", errors="replace")[-2000:]
            last = log_tail.strip().splitlines()[-1:] or [""]
            result["stopped"] = {"cell": None, "why": "worker_failed", "error": last[0]}
        shutil.rmtree(channel, ignore_errors=True)
        return result


def _package_parent() -> str:
    """The folder holding the ``jbert_helpers`` package (the checkout, or site-packages)."""
    return str(Path(__file__).resolve().parents[2])


def _model_folders(model: str, stage: Path) -> tuple[list[str], dict[str, str]]:
    """The folders a kernel reads the model from (bound read-only into the sandbox), and their variables.

    The stand-in is built here, by the grader, before any sandbox (which cannot write), and copied
    into ``stage`` readable by the sandbox's uid (the cache keeps the owner-only mode it was made with).
    """
    if model.lower() == "standin":
        from ..standin import ensure_standin

        built = ensure_standin()
        stage.mkdir(mode=0o755)
        shutil.copytree(built, stage / built.name, copy_function=shutil.copyfile)
        for folder, _, names in os.walk(stage):
            os.chmod(folder, 0o755)
            for name in names:
                os.chmod(os.path.join(folder, name), 0o644)
        return [str(stage)], {"JBERT_CACHE_DIR": str(stage)}
    if Path(model).expanduser().is_dir():
        return [str(Path(model).expanduser().resolve())], {}
    from ..hubcache import hub_cache_dir

    return [str(hub_cache_dir())], {"HF_HUB_CACHE": str(hub_cache_dir())}


_STOP_REASON = {
    "notebook_timeout": "ノートブック全体の制限時間 ({t} 秒) を超えたので止めました / notebook time limit",
    "kernel_died": "カーネルが止まりました (メモリの使いすぎなど) / the kernel died",
    "worker_died": "採点プロセスが止まりました (出力やメモリが大きすぎるなど) / the grading process died",
    "worker_failed": "採点プロセスが失敗しました / the grading process failed",
}


def _expected_values(runner: _Runner, lesson: Lesson) -> dict[int, Any]:
    probes = [
        {"exercise": e.number, "variable": e.variable, "check_cell": e.check_cell, "before_cell": -1}
        for e in lesson.exercises
    ]
    result = runner.run(lesson.path, "expected", probes, cell_timeout=600, notebook_timeout=1800)
    stopped = result.get("stopped")
    if stopped:
        detail = stopped.get("error") or _STOP_REASON.get(stopped["why"], stopped["why"])
        raise GradingError(
            f"レッスン {lesson.path.name} を実行できないので正解を計算できません (セル {stopped.get('cell')}: {detail})。"
            f"`jbert doctor` と `jbert refresh {lesson.path}` で確かめるか、--memory-mb / --cell-timeout を増やしてください "
            "/ cannot run the lesson"
        )
    values: dict[int, Any] = {}
    for e in lesson.exercises:
        wired = result["answers"].get(str(e.number), {})
        if wired.get("kind") == "unsupported":  # e.g. a tensor (04-18a): judged by the check cell only
            values[e.number] = NotGradable(str(wired.get("type", "?")))
            continue
        if wired.get("kind") != "value":
            raise GradingError(
                f"{lesson.path.name} 演習 {e.number}: 正解の値を読めません ({wired}) / expected value unreadable"
            )
        values[e.number] = ast.literal_eval(wired["repr"])
    return values


@dataclass(frozen=True)
class NotGradable:
    """The expected value of an exercise whose answer is not plain data (a tensor, say).

    The grader compares only plain data in its own process; such an exercise (lesson 04-18a's
    rebuilt tensors, compared with a tolerance by the check cell) gets an ``error`` row saying
    so, and the rest of the gradebook is graded as usual.
    """

    type_name: str


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _judge(
    e: Exercise, sub_ex: Exercise | None, answer_cell: int | None, result: dict[str, Any], expected: Any, timeout: int
) -> tuple[str, str]:
    """(status, reason) of lesson exercise ``e`` from a worker's result.

    ``answer_cell`` is the submission's answer cell; an error there makes the exercise an error.
    """
    if isinstance(expected, NotGradable):
        return (
            "error",
            f"この演習の答えは {expected.type_name} で、jbert grade は採点できません"
            " (数・文字列・リスト・タプル・真偽値だけ)。提出したノートブックの確認セルで確かめてください"
            " / answer type not gradable",
        )
    if sub_ex is None:
        return "not_answered", "確認のセル (check_exercise) が提出にありません / the check cell is missing"
    if answer_cell is None:
        return "not_answered", "答えのセルが提出にありません / the answer cell is missing"
    answer = result["answers"].get(str(e.number))
    if answer is None:
        stopped = result.get("stopped") or {"why": "worker_died"}
        return "error", _STOP_REASON.get(stopped["why"], stopped["why"]).format(t=timeout)
    errors = result["cell_errors"]
    if answer_cell is not None and str(answer_cell) in errors:
        return "error", f"答えのセルでエラー / error in the answer cell: {errors[str(answer_cell)]}"
    kind = answer.get("kind")
    if kind == "ellipsis":
        return "not_answered", f"{e.variable} = ... のままです / not answered"
    if kind == "missing":
        earlier = [int(i) for i in errors if int(i) < sub_ex.check_cell]
        why = f" (セル {max(earlier)}: {errors[str(max(earlier))]})" if earlier else ""
        return "error", f"変数 {e.variable} がありません / {e.variable} is not defined{why}"
    if kind == "unsupported":
        return (
            "error",
            f"答えの型 {answer.get('type')} は採点できません (数・文字列・リスト・タプル・真偽値で) / unsupported type",
        )
    if kind == "too_large":
        return "error", "答えが大きすぎます / answer too large"
    if kind != "value":
        return "error", f"答えを読めません / answer unreadable: {answer.get('why', '')}"
    try:
        value = ast.literal_eval(answer["repr"])
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return "error", "答えを読めません / answer unreadable"
    if value == expected:
        return "correct", ""
    return "wrong", f"答え {_short(value)} (正解 {_short(expected)})"


def _answer_cell(nb: Any, lesson_ex: Exercise, sub_ex: Exercise) -> int | None:
    """The submission's answer cell, or None when it has none.

    The cell with the lesson's answer cell's id; else the cell assigning the variable; else the
    code cell just before the check cell, unless that is another exercise's check cell (then the
    variable would still hold the previous exercise's answer).
    """
    if lesson_ex.answer_cell_id:
        for index, cell in enumerate(nb.cells):
            if cell.get("id") == lesson_ex.answer_cell_id and index < sub_ex.check_cell:
                return index
    if sub_ex.answer_cell is not None:
        return sub_ex.answer_cell
    for index in range(sub_ex.check_cell - 1, -1, -1):
        cell = nb.cells[index]
        if cell.cell_type == "code":
            return None if check_calls(cell.source) else index
    return None


MAX_CELLS = 5000


class _BadNotebook(Exception):
    """A submission that is not a notebook the grader runs (the message is the row's reason)."""


def _read_submission(path: Path) -> Any:
    """The submission at ``path`` as an nbformat 4 notebook whose cells all have a type and text source.

    Symbolic links are never followed (``O_NOFOLLOW``); the file's size, its cell count and every
    cell's shape are checked before anything else reads it.
    """
    import nbformat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        if os.fstat(f.fileno()).st_size > MAX_SUBMISSION_BYTES:
            raise _BadNotebook(f"ファイルが大きすぎます (> {MAX_SUBMISSION_BYTES // 2**20} MB) / file too large")
        raw = json.loads(f.read().decode("utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise _BadNotebook("ノートブック (JSON) として読めません / not a valid notebook: no cells")
    if raw.get("nbformat") != 4:
        raw = json.loads(nbformat.writes(nbformat.reads(json.dumps(raw), as_version=4)))
    cells = raw["cells"]
    if len(cells) > MAX_CELLS:
        raise _BadNotebook(f"セルが多すぎます ({len(cells)} > {MAX_CELLS}) / too many cells")
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise _BadNotebook(f"セル {index} に正しい cell_type がありません / cell {index} has no valid cell_type")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise _BadNotebook(f"セル {index} の source が文字列ではありません / cell {index}: source is not text")
        cell["source"] = source
        if not isinstance(cell.get("metadata", {}), dict):
            cell["metadata"] = {}
        if cell["cell_type"] == "code":
            cell.setdefault("execution_count", None)
            cell.setdefault("outputs", [])
    raw.setdefault("metadata", {})
    if not isinstance(raw["metadata"], dict):
        raw["metadata"] = {}
    return nbformat.from_dict(raw)


def _grade_file(
    runner: _Runner,
    student: str,
    rel: str,
    path: Path,
    lesson: Lesson,
    lessons: dict[str, Lesson],
    expected: Callable[[Lesson], dict[int, Any]],
    limits: Limits,
) -> list[Grade]:
    import nbformat

    def rows(status: str, reason: str) -> list[Grade]:
        return [Grade(student, lesson.stem, e.number, e.what, status, reason, rel) for e in lesson.exercises]

    try:
        nb = _read_submission(path)
    except _BadNotebook as error:
        return rows("error", _clean(str(error)))
    except Exception as error:  # any way a file can fail to be a notebook
        return rows(
            "error", _clean(f"ノートブック (JSON) として読めません / not a valid notebook: {type(error).__name__}")
        )
    title = lesson_title(nb)
    titles = {les.title: les.stem for les in lessons.values() if les.title}
    actual = titles.get(title or "")
    if actual is None:
        code = {c.source for c in nb.cells if c.cell_type == "code"}
        overlap = {s: len(code & les.code) for s, les in lessons.items()}
        best = max(overlap, key=lambda s: (overlap[s], s == lesson.stem))
        actual = best if overlap[best] else None
    if actual != lesson.stem:
        said = f"中身は {actual} です" if actual else "中身がどのレッスンとも合いません"
        return rows(
            "error", f"ファイル名は {lesson.stem} ですが{said} / the file is a different lesson than its name says"
        )
    sub = find_exercises(nb)
    by_id = {s.check_cell_id: s for s in sub if s.check_cell_id}
    matched: dict[int, Exercise | None] = {}
    for e in lesson.exercises:
        s = by_id.get(e.check_cell_id) if e.check_cell_id else None
        if s is None and len(sub) >= e.number and sub[e.number - 1].variable == e.variable:
            s = sub[e.number - 1]
        if s is not None and s.variable != e.variable:
            s = None
        matched[e.number] = s
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []  # the student's stored outputs are never read
    staged = runner.root / "staged" / str(runner.count + 1)
    staged.mkdir(parents=True)
    target = staged / path.name
    target.write_text(nbformat.writes(nb), encoding="utf-8")
    probes = [
        {"exercise": n, "variable": s.variable, "before_cell": s.check_cell}
        for n, s in matched.items()
        if s is not None
    ]
    result = runner.run(
        target, "submission", probes, cell_timeout=limits.cell_timeout, notebook_timeout=limits.notebook_timeout
    )
    values = expected(lesson)
    out = []
    for e in lesson.exercises:
        sub_ex = matched[e.number]
        answer_cell = _answer_cell(nb, e, sub_ex) if sub_ex is not None else None
        status, reason = _judge(e, sub_ex, answer_cell, result, values[e.number], limits.notebook_timeout)
        out.append(Grade(student, lesson.stem, e.number, e.what, status, _clean(reason, str(runner.root)), rel))
    return out


def _shown_name(name: str) -> str:
    """A file or folder name as valid UTF-8 text: bytes that are not UTF-8 become ``\\xNN``.

    >>> _shown_name("aoi"), _shown_name(os.fsdecode(b"bad\\xff"))
    ('aoi', 'bad\\\\xff')
    """
    return os.fsencode(name).decode("utf-8", "backslashreplace")


_SYMLINK = "シンボリックリンクは辿りません (採点しません) / symbolic link, not followed"


def _student_files(student_dir: Path) -> tuple[list[Path], list[Path]]:
    """The student's ``*.ipynb`` files (never through a symbolic link), and the links found."""
    files: list[Path] = []
    links: list[Path] = []
    for folder, dirs, names in os.walk(student_dir, followlinks=False):
        here = Path(folder)
        for d in list(dirs):
            if (here / d).is_symlink():
                links.append(here / d)
                dirs.remove(d)
            elif d == ".ipynb_checkpoints":
                dirs.remove(d)
        for name in names:
            p = here / name
            if p.is_symlink():
                links.append(p)
            elif name.endswith(".ipynb"):
                files.append(p)
    return sorted(files), sorted(links)


def sandbox_status(*, unconfined: bool = False) -> str:
    """How each submission will be confined, in one line (``jbert grade`` prints it); raise if it cannot be.

    Without the sandbox (no bubblewrap, no namespaces) grading refuses with the reason and the fix,
    unless ``unconfined`` (the teacher's explicit ``--unconfined``), which every row then records.
    """
    from .sandbox import sandbox_problem

    if unconfined:
        return "隔離なし (--unconfined): 提出物は採点者と同じユーザーで動きます / UNCONFINED: no sandbox"
    problem = sandbox_problem()
    if problem:
        raise GradingError(
            f"提出物を隔離して動かせないので採点しません: {problem}\n"
            "隔離なしで採点するなら (信頼できる提出物だけ) --unconfined を付けてください。各行に unconfined と記録されます。\n"
            "Refusing to grade: the sandbox cannot be set up here. Install bubblewrap (Debian/Ubuntu: apt-get install "
            "bubblewrap) or pass --unconfined (recorded on every row)."
        )
    memory = "メモリはプロセス全体で cgroup" if cgroup_available() else "メモリはプロセスごと (RLIMIT_AS; cgroup なし)"
    who = "uid 65534 (nobody)" if os.geteuid() == 0 else f"user namespace of uid {os.geteuid()}"
    return f"隔離: bubblewrap ({who}, 読み取り専用の環境, /tmp だけ書ける, ネットワークなし; {memory}) / sandbox: bubblewrap"


def grade(
    submissions: Path,
    *,
    lessons_dir: Path,
    model: str,
    limits: Limits = Limits(),
    log: Callable[[str], None] | None = None,
    unconfined: bool = False,
) -> Gradebook:
    """Grade every ``SUBMISSIONS/<student>/*.ipynb`` against the lessons in ``lessons_dir``.

    Every file gets rows with a reason; a file that cannot be graded never stops the others.
    The same submissions give the same gradebook (rows sorted; reasons carry no times or paths).
    The expected values of every lesson needed are computed before any submission runs. Refuses
    (:class:`GradingError`) when the sandbox cannot be set up, unless ``unconfined``.
    """
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise GradingError(f"提出フォルダがありません / no such folder: {submissions}")
    lessons = load_lessons(lessons_dir)
    say = log or (lambda _: None)
    say(f"[jbert] grade: {sandbox_status(unconfined=unconfined)}")
    # notebooks handed out without exercises (00_index): handed back, they are not graded
    no_exercises = {p.name for p in Path(lessons_dir).glob("*.ipynb")} - {les.path.name for les in lessons.values()}
    entries = sorted(p for p in submissions.iterdir() if not p.name.startswith("."))
    grades: list[Grade] = []
    students: list[Path] = []
    for p in entries:
        if p.is_symlink():
            grades.append(Grade(_shown_name(p.name), "", 0, "", "error", _SYMLINK, ""))
        elif p.is_dir():
            students.append(p)
    if not students and not grades:
        raise GradingError(
            f"{submissions} に生徒のフォルダがありません (提出フォルダ/生徒名/レッスン.ipynb) / no student folders"
        )
    # what to grade: every file gets its row or its run, decided before anything runs
    todo: list[tuple[str, str, Path, str]] = []
    submitted: dict[str, set[str]] = {}
    for student_dir in students:
        student = _shown_name(student_dir.name)
        files, links = _student_files(student_dir)
        for link in links:
            rel = _shown_name(link.relative_to(student_dir).as_posix())
            grades.append(Grade(student, Path(rel).stem, 0, "", "error", _SYMLINK, rel))
        chosen: dict[str, Path] = {}
        for path in files:  # an exactly named file wins over "04-07 (1).ipynb"
            stem = named_lesson(path.name, lessons)
            if stem and (stem not in chosen or path.stem == stem):
                chosen[stem] = path
        for path in files:
            rel = _shown_name(path.relative_to(student_dir).as_posix())
            stem = named_lesson(path.name, lessons)
            if stem is None and path.name in no_exercises:
                continue
            if stem is None:
                why = "ファイル名からレッスンが分かりません (例: 04-07_encode_decode.ipynb) / unknown lesson"
                grades.append(Grade(student, _shown_name(path.stem), 0, "", "error", why, rel))
                continue
            if chosen[stem] != path:
                why = f"同じレッスンの {_shown_name(chosen[stem].name)} を採点しました / duplicate, not graded"
                grades.append(Grade(student, stem, 0, "", "error", why, rel))
                continue
            todo.append((student, rel, path, stem))
            submitted.setdefault(student, set()).add(stem)
    cache: dict[str, dict[int, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="jbert-grade-") as tmp:
        runner = _Runner(Path(tmp), model, limits, unconfined=unconfined)
        for stem in sorted({stem for *_, stem in todo}):  # the answer key, before any submission runs
            say(f"[jbert] grade: 正解を計算 / expected values: {lessons[stem].path.name}")
            cache[stem] = _expected_values(runner, lessons[stem])

        def expected(lesson: Lesson) -> dict[int, Any]:
            return cache[lesson.stem]

        for student, rel, path, stem in todo:
            say(f"[jbert] grade: {student}/{rel}")
            try:
                grades += _grade_file(runner, student, rel, path, lessons[stem], lessons, expected, limits)
            except (RecursionError, MemoryError) as error:  # a submission that breaks the analysis
                why = _clean(f"ノートブックを解析できません / cannot analyse the notebook: {type(error).__name__}")
                grades += [Grade(student, stem, e.number, e.what, "error", why, rel) for e in lessons[stem].exercises]
        graded_lessons = sorted(set().union(*submitted.values()) if submitted else set())
        for student_dir in students:
            student = _shown_name(student_dir.name)
            for stem in graded_lessons:
                if stem not in submitted.get(student, set()):
                    grades += [
                        Grade(student, stem, e.number, e.what, "not_submitted", "未提出 / not submitted")
                        for e in lessons[stem].exercises
                    ]
    mode = "unconfined" if unconfined else "bwrap"
    grades = [dataclasses.replace(g, sandbox=mode) for g in grades]
    grades.sort(key=lambda g: (g.student, g.lesson, g.exercise, g.file))
    return Gradebook(grades)


def write_gradebook(book: Gradebook, out_dir: Path) -> tuple[Path, Path]:
    """Write ``gradebook.csv`` and ``gradebook.md`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / "gradebook.csv", out_dir / "gradebook.md"
    csv_path.write_text(book.to_csv(), encoding="utf-8")
    md_path.write_text(book.to_table() + "\n", encoding="utf-8")
    return csv_path, md_path


if __name__ == "__main__":  # the worker: python -m jbert_helpers.tools.grading --worker SPEC
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        # jsonschema (via nbformat) builds an IRI grammar at import when rfc3987_syntax is installed:
        # about 1 s per worker, for a format check nbformat never uses. Its import is optional there.
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
        _worker_main(sys.argv[2])
    else:
        sys.exit("usage: python -m jbert_helpers.tools.grading --worker SPEC.json (started by jbert grade)")
