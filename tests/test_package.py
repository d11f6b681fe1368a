"""The package's public surface: every exported name resolves, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import jbert_helpers


def test_every_exported_name_resolves() -> None:
    assert sorted(jbert_helpers.__all__) == sorted(jbert_helpers._EXPORTS)
    for name in jbert_helpers.__all__:
        assert getattr(jbert_helpers, name) is not None, name


def test_import_loads_neither_torch_nor_matplotlib_nor_the_network() -> None:
    code = (
        "import socket, sys\n"
        "def no_network(*a, **k): raise AssertionError('network at import time')\n"
        "socket.socket.connect = no_network\n"
        "import jbert_helpers, jbert_helpers.models, jbert_helpers.standin, jbert_helpers.tools.refresh\n"
        "print(sorted(m for m in ('torch', 'matplotlib', 'transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_lessons_import_only_from_the_package_itself() -> None:
    """One rule for lessons: everything they use is exported by jbert_helpers (no submodule imports)."""
    import json
    import re
    from pathlib import Path

    notebooks = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
    found = []
    for path in notebooks:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and re.search(r"(from|import)\s+jbert_helpers\.", source):
                found.append(path.name)
    assert notebooks and found == []


def test_every_public_exception_lives_in_errors_py() -> None:
    """One place to read every error jbert raises (a private control-flow signal may stay local)."""
    import inspect
    import pkgutil
    from importlib import import_module

    from jbert_helpers import errors

    elsewhere = []
    for info in pkgutil.walk_packages(jbert_helpers.__path__, "jbert_helpers."):
        module = import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name:
                if not name.startswith("_") and module is not errors:
                    elsewhere.append(f"{info.name}.{name}")
    assert elsewhere == []
    assert issubclass(errors.ExerciseError, errors.JbertError)


def test_the_type_checking_imports_are_the_exports() -> None:
    """IDEs and mypy read the TYPE_CHECKING block; it must name exactly what _EXPORTS serves, from the same modules."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(jbert_helpers.__file__).read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    imported = {
        alias.name: node.module for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    assert imported == jbert_helpers._EXPORTS
