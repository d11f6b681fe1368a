"""pytest set-up shared by the unit tests and the nbval run over notebooks/.

* Kernels run under :data:`jbert_helpers.tools.refresh.NOTEBOOK_ENV` (the environment ``jbert refresh``
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
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from jbert_helpers.tools.refresh import NOTEBOOK_ENV, model_unavailable, recorded_model

_recorded = functools.lru_cache(maxsize=None)(recorded_model)
OVERRIDE = "JBERT_NBVAL_MODEL"


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
