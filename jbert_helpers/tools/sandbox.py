"""The kernel that runs a student's submission for ``jbert grade``: limits first, then ipykernel.

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
