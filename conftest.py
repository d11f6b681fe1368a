"""pytest set-up shared by the unit tests and the nbval run over notebooks/.

* Kernels run under :data:`jbert_helpers.tools.kernelenv.NOTEBOOK_ENV` (the environment ``jbert refresh``
  stores outputs under), so nbval compares like with like. stderr is compared too.
* Each worker's kernels get their own ``IPYTHONDIR``, so two kernels never share IPython's history
  database (a locked sqlite file would print to stderr and fail a cell at random).
* Each notebook's kernel loads the model its stored outputs came from (``metadata.jbert.model``).
  A notebook recorded with a model that is not on this machine (the real one, say) is validated on
  the stand-in, never skipped: the stored outputs hold for any weights (``make audit`` checks that),
  and the lines that name the model are compared by the rule in ``nbval_sanitize.cfg``.
  A notebook without ``metadata.jbert`` fails.
* ``JBERT_NBVAL_MODEL`` overrides the model for every notebook: a label (``standin``, a hub id, a
  folder), or ``auto`` — no ``JBERT_MODEL`` at all, so ``resolve_model_name()`` decides as on a
  learner's machine, with the caller's ``HF_HUB_OFFLINE`` (``make real-path`` serves the replica
  from a fake Hub this way).
* The stand-in is materialised once, before the workers start.
* Slow tests: marked ``@pytest.mark.slow``, or slow by file name (:data:`SLOW_FILES`,
  :data:`SLOW_PREFIXES`: every test of those modules). ``pytest`` (``make test``) deselects them
  (``-m 'not slow'`` in pyproject.toml) and says how many it left out; ``make ci`` runs ``pytest -m slow``.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from jbert_helpers.tools.kernelenv import NOTEBOOK_ENV
from jbert_helpers.tools.refresh import model_unavailable, recorded_model

_recorded = functools.lru_cache(maxsize=None)(recorded_model)
OVERRIDE = "JBERT_NBVAL_MODEL"

#: Test modules that are slow as a whole: fresh interpreters, a fake Hub on 127.0.0.1, nbval in a subprocess.
SLOW_FILES = ("test_fake_hub.py", "test_faults.py", "test_network.py", "test_nbval_rules.py")
#: ... and by prefix: grading in sandboxed kernels (test_grading*.py, test_sandbox*.py), the wheel in a fresh venv.
SLOW_PREFIXES = ("test_grading", "test_sandbox", "test_wheel")
_SLOW_LEFT_OUT = "jbert_slow_left_out"
_slow_left_out = 0


def is_slow_file(path: Path) -> bool:
    """Whether every test in the module at ``path`` is slow (by its file name)."""
    return path.suffix == ".py" and (path.name in SLOW_FILES or path.name.startswith(SLOW_PREFIXES))


@pytest.hookimpl(tryfirst=True)  # before -m reads the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if is_slow_file(Path(str(item.fspath))):
            item.add_marker(pytest.mark.slow)


def pytest_deselected(items: list[pytest.Item]) -> None:
    global _slow_left_out
    _slow_left_out += sum(1 for item in items if item.get_closest_marker("slow"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: tell the controller (every worker collects everything)
        workeroutput[_SLOW_LEFT_OUT] = _slow_left_out


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # noqa: ANN001 (xdist's hook; xdist may not be installed)
    global _slow_left_out
    _slow_left_out = max(_slow_left_out, getattr(node, "workeroutput", {}).get(_SLOW_LEFT_OUT, 0))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    if _slow_left_out:
        terminalreporter.write_line(
            f"NOT RUN here: {_slow_left_out} slow tests (deselected, not passed); "
            "`make ci` runs them (pytest -m slow tests)",
            yellow=True,
            bold=True,
        )


def pytest_configure(config: pytest.Config) -> None:
    caller_offline = os.environ.get("HF_HUB_OFFLINE")
    os.environ.update(NOTEBOOK_ENV)
    if os.environ.get(OVERRIDE) == "auto" and caller_offline is not None:
        os.environ["HF_HUB_OFFLINE"] = caller_offline
    os.environ["IPYTHONDIR"] = tempfile.mkdtemp(prefix="jbert-ipython-")
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without xdist
        from jbert_helpers.standin import ensure_standin

        ensure_standin()


def pytest_unconfigure(config: pytest.Config) -> None:
    ipython_dir = os.environ.get("IPYTHONDIR", "")
    if Path(ipython_dir).name.startswith("jbert-ipython-"):
        shutil.rmtree(ipython_dir, ignore_errors=True)


def kernel_model(label: str | None) -> str | None:
    """The ``JBERT_MODEL`` a notebook recorded with ``label`` is validated with (None: let resolve decide)."""
    override = os.environ.get(OVERRIDE, "").strip()
    if override == "auto":
        return None
    if override:
        return override
    if label is None:
        raise ValueError("no metadata.jbert.model")
    return label if model_unavailable(label) is None else "standin"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    path = Path(str(item.fspath))
    if path.suffix != ".ipynb":
        return
    label = _recorded(path)
    if label is None and not os.environ.get(OVERRIDE):
        pytest.fail(
            f"{path.name}: no metadata.jbert.model — store its outputs with `jbert refresh {path}`", pytrace=False
        )
    model = kernel_model(label)
    if model is None:
        os.environ.pop("JBERT_MODEL", None)
    else:
        os.environ["JBERT_MODEL"] = model  # "standin", a hub id or a folder: what resolve_model_name reads
