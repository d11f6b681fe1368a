"""pytest set-up shared by the unit tests and the nbval run over notebooks/.

* Kernels run under :data:`jbert_helpers.notebooks.NOTEBOOK_ENV` (the environment ``jbert refresh``
  stores outputs under), so nbval compares like with like. stderr is compared too.
* Each worker's kernels get their own ``IPYTHONDIR``, so two kernels never share IPython's history
  database (a locked sqlite file would print to stderr and fail a cell at random).
* Each notebook's kernel loads the model its stored outputs came from (``metadata.jbert.model``);
  a notebook recorded with a model that cannot be loaded here is skipped with that reason.
* The stand-in is materialised once, before the workers start.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from jbert_helpers.notebooks import NOTEBOOK_ENV, model_unavailable, recorded_model

_recorded = functools.lru_cache(maxsize=None)(recorded_model)


def pytest_configure(config: pytest.Config) -> None:
    os.environ.update(NOTEBOOK_ENV)
    os.environ["IPYTHONDIR"] = tempfile.mkdtemp(prefix="jbert-ipython-")
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without xdist
        from jbert_helpers.standin import ensure_standin

        ensure_standin()


def pytest_unconfigure(config: pytest.Config) -> None:
    ipython_dir = os.environ.get("IPYTHONDIR", "")
    if Path(ipython_dir).name.startswith("jbert-ipython-"):
        shutil.rmtree(ipython_dir, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix != ".ipynb":
            continue
        label = _recorded(path)
        reason = "no metadata.jbert.model: run `jbert refresh` on it" if label is None else model_unavailable(label)
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"{path.name}: {reason}"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    path = Path(str(item.fspath))
    if path.suffix == ".ipynb":
        label = _recorded(path)
        if label:
            os.environ["JBERT_MODEL"] = label  # "standin", a hub id or a folder: what resolve_model_name reads
