"""The kernel that runs a student's submission for ``jbert grade``, and the bubblewrap sandbox around it.

``python -m jbert_helpers.tools.sandbox --memory-mb 3072 --file-mb 64 -f CONNECTION_FILE`` sets, before
any student code can run,

* ``RLIMIT_AS`` (address space): a cell that allocates until killed gets ``MemoryError`` instead of
  taking the machine (or the other students' grading) down with it;
* ``RLIMIT_FSIZE``: no file larger than ``--file-mb`` can be written;
* ``RLIMIT_CORE`` = 0: a crash leaves no core dump;
* the parent-death signal (Linux): if the grader is killed, the kernel dies with it;

then replaces its stdout/stderr file descriptors with ``/dev/null`` (what the kernel prints goes
to the grader through Jupyter messages only), caps what one cell can print (``--output-chars``;
the rest is dropped with a note, so a 100 MB print sends about 1 MB) and starts ``ipykernel``.

It also holds :func:`wire`, which the grader evaluates in the kernel to read an answer variable
as plain data: the grader compares values in its own process, never by the student's ``==``.

>>> import json
>>> json.loads(wire("answer", {"answer": (2, 768)}))
{'kind': 'value', 'repr': '(2, 768)'}
>>> json.loads(wire("answer", {"answer": ...}))["kind"]
'ellipsis'
>>> json.loads(wire("answer", {}))["kind"]
'missing'
"""

from __future__ import annotations

import json
import sys
from typing import Any

#: The largest answer (its ``repr``) the grader reads back from a kernel, in characters.
MAX_ANSWER_CHARS = 100_000

_PLAIN_SCALARS = (bool, int, float, str, type(None))


class _Unsupported(Exception):
    def __init__(self, type_name: str) -> None:
        super().__init__(type_name)
        self.type_name = type_name


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as nested built-in data (what :func:`ast.literal_eval` reads back), or raise.

    Subclasses are reduced to their base (``torch.Size`` → ``tuple``, ``numpy.int64`` → ``int``),
    a 0-dimensional tensor or NumPy scalar to its Python number; anything else is not gradable.

    >>> plain([1, ("a", True), {"k": None}])
    [1, ('a', True), {'k': None}]
    """
    if depth > 20:
        raise _Unsupported("nested too deep")
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return value
    # subclasses: the base type's own conversion, never an override of the student's class
    if isinstance(value, bool):
        return bool(int.__int__(value))
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, tuple):
        return tuple(plain(v, depth + 1) for v in value)
    if isinstance(value, list):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {plain(k, depth + 1): plain(v, depth + 1) for k, v in value.items()}
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:  # NumPy scalar, 0-d tensor
        return plain(item(), depth + 1)
    raise _Unsupported(f"{kind.__module__}.{kind.__qualname__}")


def wire(name: str, namespace: dict[str, Any]) -> str:
    """Read the variable ``name`` from ``namespace`` as a JSON string the grader can parse safely.

    ``kind`` is ``value`` (with ``repr``), ``ellipsis`` (not answered), ``missing`` (no such
    variable), ``unsupported`` (with ``type``) or ``too_large``.
    """
    if name not in namespace:
        return json.dumps({"kind": "missing"})
    value = namespace[name]
    if value is Ellipsis:
        return json.dumps({"kind": "ellipsis"})
    try:
        text = repr(plain(value))
    except _Unsupported as e:
        return json.dumps({"kind": "unsupported", "type": e.type_name})
    except RecursionError:
        return json.dumps({"kind": "unsupported", "type": "recursive"})
    if len(text) > MAX_ANSWER_CHARS:
        return json.dumps({"kind": "too_large"})
    return json.dumps({"kind": "value", "repr": text})


def _set_limits(memory_mb: int, file_mb: int) -> None:
    import resource

    mem = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    size = file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the grader
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the grader kills by pid
            pass


# ---------------------------------------------------------------------------------------------
# The bubblewrap sandbox around a kernel: namespaces, an unprivileged uid, read-only environment.
# ---------------------------------------------------------------------------------------------

#: The host uid/gid a sandbox runs as when the grader runs as root (``nobody``): not the grader's.
SANDBOX_UID = 65534
#: The uid/gid the kernel has inside its user namespace.
INSIDE_UID = 1000
#: Where the kernel reads its connection file inside the sandbox.
CONNECTION_INSIDE = "/run/jbert/connection.json"
#: Files of /etc the kernel may read (dynamic linker, time zone, user names, certificates, MIME types).
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "passwd",
    "group",
    "nsswitch.conf",
    "ssl",
    "ca-certificates",
    "alternatives",
    "mime.types",
    "fonts",
    "mecabrc",
)

#: What ``jbert_helpers/exercises.py`` is inside a submission's sandbox: the lessons' check cell
#: (``check_exercise``) runs and says the teacher grades; ``expected_answer`` raises; there is no answer
#: key to import or read.
EXERCISES_STUB = '''"""jbert grade: the answer key is not in this sandbox (the grader computed it outside)."""

from __future__ import annotations

from typing import Any

from .errors import ExerciseError

TENSOR_ATOL = 1e-5
EXERCISES: dict[str, Any] = {}


def tensors_close(answer: object, expected: object, *, atol: float = TENSOR_ATOL) -> bool:
    if not all(hasattr(v, "detach") and hasattr(v, "shape") for v in (answer, expected)):
        return False
    import torch

    a = answer.detach().cpu().to(torch.float64)  # type: ignore[attr-defined]
    e = expected.detach().cpu().to(torch.float64)  # type: ignore[attr-defined]
    return a.shape == e.shape and bool(torch.allclose(a, e, atol=atol))


def expected_answer(key: str, **objects: Any) -> object:
    raise ExerciseError("採点中は正解を計算できません / the answer key is not available while grading")


def check_exercise(key: str, answer: object, **objects: Any) -> None:
    print(f"⏳ {key}: 先生の採点で確かめます / graded by the teacher")
'''


def bwrap_path() -> str | None:
    """The bubblewrap executable (``$JBERT_BWRAP`` if set, else ``bwrap`` on PATH), or None."""
    import os
    import shutil

    return shutil.which(os.environ.get("JBERT_BWRAP") or "bwrap")


def package_dir() -> str:
    """The folder of the ``jbert_helpers`` package (a checkout or site-packages)."""
    from pathlib import Path

    return str(Path(__file__).resolve().parents[1])


def build_plan(
    *,
    channel: str,
    env: dict[str, str],
    answer_key: bool,
    memory_mb: int,
    file_mb: int,
    tmp_mb: int,
    cpu_seconds: int,
    max_procs: int,
    cgroups: list[str],
    read_only: list[str],
) -> dict[str, Any]:
    """What :func:`launch` sets up for one kernel (written to a file only the grader can read).

    ``read_only``: extra folders the kernel may read (the model's cache), bound at the same path.
    ``answer_key``: whether ``jbert_helpers/exercises.py`` is the real one (the teacher's lesson)
    or :data:`EXERCISES_STUB` (a submission).
    """
    import os
    import sys

    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    prefixes |= {sys.prefix, sys.base_prefix}
    roots = sorted(p for p in prefixes if not p.startswith("/usr/") and p != "/usr")
    inner = [
        os.path.join(sys.prefix, "bin", "python")
        if os.path.exists(os.path.join(sys.prefix, "bin", "python"))
        else sys.executable,
        "-m",
        "jbert_helpers.tools.sandbox",
        "--memory-mb",
        str(memory_mb),
        "--file-mb",
        str(file_mb),
    ]
    return {
        "bwrap": bwrap_path(),
        "read_only": [*roots, *read_only],
        "package": package_dir(),
        "answer_key": answer_key,
        "channel": channel,
        "env": {
            **env,
            "PYTHONPATH": os.path.dirname(package_dir()),
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "HOME": "/tmp/home",
            "TMPDIR": "/tmp/work",
        },
        "memory_mb": memory_mb,
        "file_mb": file_mb,
        "tmp_mb": tmp_mb,
        "cpu_seconds": cpu_seconds,
        "max_procs": max_procs,
        "cgroups": cgroups,
        "uid": SANDBOX_UID if os.geteuid() == 0 else None,
        "inner": inner,
    }


def _bwrap_args(plan: dict[str, Any], connection: bytes | None) -> tuple[list[str], list[int]]:
    """bubblewrap's arguments for ``plan`` and the file descriptors they name (opened here)."""
    import os

    fds: list[int] = []

    def fd_of(path: str) -> str:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        fds.append(fd)
        return str(fd)

    made: set[str] = {"/"}

    def parents(path: str) -> list[str]:
        """``--dir`` for each parent not made yet (mode 0755: the sandbox's uid may pass through)."""
        out: list[str] = []
        todo = []
        parent = os.path.dirname(path)
        while parent not in made and not any(parent.startswith(b + "/") for b in bound):
            todo.append(parent)
            parent = os.path.dirname(parent)
        for folder in reversed(todo):
            made.add(folder)
            out += ["--perms", "0755", "--dir", folder]
        return out

    bound: list[str] = []

    def bind(option: str, source: str, dest: str) -> list[str]:
        out = parents(dest) + [option, fd_of(source), dest]
        bound.append(dest)
        return out

    def data_fd(data: bytes) -> str:
        read, write = os.pipe()
        os.write(write, data)  # small (a connection file, a module): fits in the pipe's buffer
        os.close(write)
        fds.append(read)
        return str(read)

    if plan["uid"] is not None:
        # run as root: bubblewrap (privileged, all capabilities dropped but the two the drop step
        # needs) builds the namespaces and mounts, then the drop step becomes ``plan["uid"]``
        args = [plan["bwrap"], "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
        args += [
            "--unshare-cgroup-try",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "CAP_SETUID",
            "--cap-add",
            "CAP_SETGID",
            "--cap-add",
            "CAP_CHOWN",
        ]
    else:
        # run as a user: bubblewrap's user namespace maps the kernel's uid to that user's
        args = [plan["bwrap"], "--unshare-all", "--unshare-user", "--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID)]
    args += [
        "--hostname",
        "jbert-sandbox",
        "--die-with-parent",
        "--clearenv",
        *bind("--ro-bind-fd", "/usr", "/usr"),
        # the only writable place, first: the grader's folders bound below /tmp go on top of it
        *["--perms", "1777", "--size", str(plan["tmp_mb"] * 1024 * 1024), "--tmpfs", "/tmp"],
    ]
    made.add("/tmp")
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += bind("--ro-bind-fd", path, path)
    for name in ETC_FILES:
        path = "/etc/" + name
        if os.path.exists(path):
            args += bind("--ro-bind-fd", path, path)
    for path in plan["read_only"]:
        if os.path.exists(path):
            args += bind("--ro-bind-fd", path, path)
    package = plan["package"]
    args += bind("--ro-bind-fd", package, package)
    if not plan["answer_key"]:
        stub = data_fd(EXERCISES_STUB.encode())
        args += ["--perms", "0444", "--ro-bind-data", stub, os.path.join(package, "exercises.py")]
        for cache in (os.path.join(package, "__pycache__"),):
            if os.path.isdir(cache):  # compiled copies of the answer key: an empty folder instead
                args += ["--tmpfs", cache, "--remount-ro", cache]
    args += ["--proc", "/proc", "--dev", "/dev"]
    if plan["channel"]:
        args += bind("--bind-fd", plan["channel"], plan["channel"])
    if connection is not None:
        args += parents(CONNECTION_INSIDE)
        args += ["--perms", "0444", "--ro-bind-data", data_fd(connection), CONNECTION_INSIDE]
    args += ["--remount-ro", "/"]
    for key, value in sorted(plan["env"].items()):
        args += ["--setenv", key, value]
    return args, fds


def _confine(plan: dict[str, Any]) -> None:
    """Join the cgroups, set the resource limits, drop to the sandbox's uid (this process, then exec)."""
    import os
    import resource

    for group in plan["cgroups"]:
        with open(os.path.join(group, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    mem = plan["memory_mb"] * 1024 * 1024
    limits = {
        resource.RLIMIT_AS: mem,
        resource.RLIMIT_FSIZE: plan["file_mb"] * 1024 * 1024,
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_CPU: plan["cpu_seconds"],
        resource.RLIMIT_NPROC: plan["max_procs"],
        resource.RLIMIT_NOFILE: 1024,
    }
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))


def enter(uid: int | None, command: list[str]) -> None:
    """First step inside the sandbox (as its root when the grader is root): folders, uid, exec."""
    import ctypes
    import os

    for folder in ("/tmp/home", "/tmp/work"):
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if uid is not None:
            os.chown(folder, uid, uid)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # clears every capability
        if os.getuid() != uid or os.geteuid() != uid:  # pragma: no cover - setresuid raises instead
            raise SystemExit("uid not dropped")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: no setuid program can give privileges back
    os.chdir("/tmp/work")
    os.execv(command[0], command)


def launch(plan_path: str, connection_file: str | None, command: list[str] | None = None) -> None:
    """Replace this process with bubblewrap running the kernel (or ``command``) as ``plan_path`` says.

    Runs outside the sandbox, as the grader's user: reads the plan and the connection file, opens
    every folder the sandbox binds (so the unprivileged uid needs no access to their parents), joins
    the cgroups, sets the limits, drops to :data:`SANDBOX_UID` and execs ``bwrap``.
    """
    import os

    with open(plan_path, encoding="utf-8") as f:
        plan = json.load(f)
    connection = None
    if connection_file is not None:
        with open(connection_file, "rb") as f:
            connection = f.read()
    args, fds = _bwrap_args(plan, connection)
    if command is None:
        command = [*plan["inner"], "-f", CONNECTION_INSIDE]
    # inside: make the kernel's folders, drop to the sandbox's uid (when run as root), then the command
    drop = [plan["inner"][0], "-m", "jbert_helpers.tools.sandbox", "--enter", str(plan["uid"] or ""), "--"]
    command = [*drop, *command]
    for fd in fds:
        os.set_inheritable(fd, True)
    _confine(plan)
    os.execve(plan["bwrap"], [*args, "--", *command], {"PATH": "/usr/bin:/bin"})


def sandbox_problem(timeout: float = 60) -> str | None:
    """Why the sandbox cannot be set up here (a sentence with the fix), or None when it works.

    Not a guess from the platform: it runs ``python -c pass`` through :func:`launch` exactly as a
    kernel would be run (same binds, limits, uid and namespaces).
    """
    import os
    import subprocess
    import tempfile

    if not sys.platform.startswith("linux"):
        return f"bubblewrap は Linux だけで動きます / the sandbox (bubblewrap) needs Linux, this is {sys.platform}"
    if bwrap_path() is None:
        return (
            "bubblewrap (bwrap) がありません。Debian/Ubuntu: sudo apt-get install bubblewrap "
            "/ bubblewrap is not installed"
        )
    with tempfile.TemporaryDirectory(prefix="jbert-probe-") as tmp:
        plan = build_plan(
            channel="",
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp/home"},
            answer_key=False,
            memory_mb=2048,
            file_mb=1,
            tmp_mb=1,
            cpu_seconds=60,
            max_procs=64,
            cgroups=[],
            read_only=[],
        )
        plan_path = os.path.join(tmp, "plan.json")
        with open(plan_path, "w", encoding="utf-8") as f:
            json.dump(plan, f)
        probe = [
            *plan["inner"][:1],
            "-c",
            "import os, jbert_helpers.tools.sandbox; assert os.getuid() != 0 and not os.access('/usr', os.W_OK)",
        ]
        launcher = [sys.executable, "-m", "jbert_helpers.tools.sandbox", "--launch", plan_path, "--", *probe]
        try:
            done = subprocess.run(
                launcher,
                capture_output=True,
                timeout=timeout,
                env={**os.environ, "PYTHONPATH": os.path.dirname(package_dir())},
            )
        except (OSError, subprocess.SubprocessError) as e:
            return f"bubblewrap を起動できません / cannot start bubblewrap: {e}"
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            return (
                f"bubblewrap の隔離を作れません ({tail[0]})。ユーザー名前空間が使えるか確かめてください "
                "(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0; コンテナでは seccomp/AppArmor) "
                "/ the sandbox cannot be set up here"
            )
    return None


OUTPUT_NOTE = "\n[jbert grade: これ以降の出力は省略 / output truncated]\n"


def _cap_output(limit: int) -> None:
    """Let each execution print at most ``limit`` characters (stdout and stderr together)."""
    from ipykernel import iostream

    original = iostream.OutStream.write
    state: dict[str, Any] = {"parent": None, "used": 0, "noted": False}

    def write(self: Any, string: str) -> int:
        if not isinstance(string, str):
            return original(self, string)  # raises ipykernel's TypeError
        parent = (self.parent_header or {}).get("msg_id")
        if parent != state["parent"]:
            state.update(parent=parent, used=0, noted=False)
        room = limit - state["used"]
        part = string[: max(room, 0)]
        if part:
            state["used"] += len(part)
            original(self, part)
        if len(part) < len(string) and not state["noted"]:
            state["noted"] = True
            original(self, OUTPUT_NOTE)
        return len(string)

    setattr(iostream.OutStream, "write", write)  # noqa: B010  (patch the class: every stream of the kernel)


def main(argv: list[str] | None = None) -> None:
    """Set the limits, silence fds 1 and 2, start ipykernel with the remaining arguments."""
    import argparse
    import os

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--launch"]:  # outside the sandbox: set it up, then exec bubblewrap
        rest = argv[2:]
        if rest[:1] == ["--"]:
            launch(argv[1], None, rest[1:])
        launch(argv[1], rest[1] if rest[:1] == ["-f"] else None)
    if argv[:1] == ["--enter"]:  # the first step inside the sandbox
        enter(int(argv[1]) if argv[1] else None, argv[3:])
    parser = argparse.ArgumentParser(prog="python -m jbert_helpers.tools.sandbox")
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--file-mb", type=int, default=64)
    parser.add_argument("--output-chars", type=int, default=1_000_000)
    args, rest = parser.parse_known_args(argv)
    _set_limits(args.memory_mb, args.file_mb)
    _cap_output(args.output_chars)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=rest)


if __name__ == "__main__":  # pragma: no cover - run as the kernel's command
    main()
