"""pytest set-up shared by the unit tests and the nbval run over notebooks/.

* Kernels run under :data:`jbert_helpers.notebooks.NOTEBOOK_ENV` (the environment ``jbert refresh``
  stores outputs under), so nbval compares like with like. stderr is compared too.
* Each notebook's kernel loads the model its stored outputs came from (``metadata.jbert.model``);
  a notebook recorded with a model that cannot be loaded here is skipped with that reason.
* The stand-in is materialised once, before the workers start.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jbert_helpers.notebooks import NOTEBOOK_ENV, model_env_value, recorded_model


def pytest_configure(config: pytest.Config) -> None:
    os.environ.update(NOTEBOOK_ENV)
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without xdist
        from jbert_helpers.standin import ensure_standin

        ensure_standin()


def _unavailable(label: str) -> str | None:
    """Why the model ``label`` cannot be loaded here, or None if it can."""
    if label == "standin":
        return None
    from jbert_helpers.models import hub_snapshot_dir

    if Path(label).is_dir() or hub_snapshot_dir(label) is not None:
        return None
    return f"stored outputs come from {label}, which is not in this machine's hub cache (jbert prefetch)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons: dict[Path, str | None] = {}
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix != ".ipynb":
            continue
        if path not in reasons:
            label = recorded_model(path)
            reasons[path] = "no metadata.jbert.model: run `jbert refresh` on it" if label is None else _unavailable(label)
        if reasons[path]:
            item.add_marker(pytest.mark.skip(reason=reasons[path]))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    path = Path(str(item.fspath))
    if path.suffix == ".ipynb":
        label = recorded_model(path)
        if label:
            os.environ["JBERT_MODEL"] = model_env_value(label)
