"""``jbert refresh``: run notebooks and store their outputs.

Stored outputs are compared by nbval, so the kernels that produce them (``jbert refresh``) and
the kernels that check them (``make test``) run under the same conditions: the same model
(recorded in each notebook's ``metadata.jbert``) and :data:`~jbert_helpers.tools.kernelenv.NOTEBOOK_ENV`.
Paths are the caller's (relative to the working directory); nothing here knows where a checkout is.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import RefreshError
from ..versions import versions
from .kernelenv import NOTEBOOK_ENV, ignored_cell


def notebooks_dir() -> Path:
    """``notebooks/`` under the working directory: the default of ``jbert refresh`` and ``jbert handout``."""
    return Path("notebooks")


def recorded_model(path: Path) -> str | None:
    """The model label a stored notebook's outputs come from (``metadata.jbert.model``)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return nb.get("metadata", {}).get("jbert", {}).get("model")


def model_unavailable(label: str) -> str | None:
    """Why the model called ``label`` cannot be loaded on this machine without the network, or None.

    ``standin`` is always available (it is built on first use); a hub id must be complete in the
    hub cache (``jbert prefetch``); a folder must exist.

    >>> model_unavailable("standin") is None
    True
    """
    if label == "standin":
        return None
    from ..hubcache import hub_snapshot_dir

    if Path(label).is_dir() or hub_snapshot_dir(label) is not None:
        return None
    return f"stored outputs come from {label}, which is not in this machine's hub cache (jbert prefetch)"


def model_revision(label: str) -> str | None:
    """What exactly ``label`` is here: ``standin-v<N>``, the hub snapshot's commit, or None for a folder.

    Recorded in ``metadata.jbert.revision`` so that a changed model is told apart from a regression.

    >>> from jbert_helpers.standin import STANDIN_VERSION
    >>> model_revision("standin") == f"standin-v{STANDIN_VERSION}"
    True
    """
    if label == "standin":
        from ..standin import STANDIN_VERSION

        return f"standin-v{STANDIN_VERSION}"
    from ..hubcache import hub_snapshot_dir

    snapshot = None if Path(label).is_dir() else hub_snapshot_dir(label)
    return snapshot.name if snapshot is not None else None


def fingerprint(source: str) -> str:
    """A short fingerprint of a cell's source (which code a stored output was made from)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def _comparable(cell: dict) -> list:
    """A cell's outputs as nbval compares them (no execution counts, no metadata)."""
    return [{k: v for k, v in o.items() if k not in ("execution_count", "metadata")} for o in cell.get("outputs", [])]


@dataclass(frozen=True)
class RefreshResult:
    """What ``refresh`` did to one notebook."""

    path: Path
    cells: int
    changed: int

    def __str__(self) -> str:
        return f"{self.path.name}: {self.changed} / {self.cells} code cells' outputs changed"


def refresh_notebook(path: Path, model_label: str, *, timeout: int = 600) -> RefreshResult:
    """Re-execute ``path`` in a fresh kernel with the model ``model_label`` and store the outputs.

    Cells tagged ``nbval-ignore-output`` (or marked ``# NBVAL_IGNORE_OUTPUT``) keep their stored output when neither their source nor
    the model (label and revision, ``metadata.jbert``) changed — their output varies by nature
    (timings, memory) — so a second refresh with the same model changes nothing. "Their source" is
    the source the stored output was made from: refresh records its fingerprint per cell id in
    ``metadata.jbert.ignored_outputs``, so a cell edited in JupyterLab (old output still attached)
    gets a fresh output instead of keeping one its new code never printed.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    old = nbformat.read(path, as_version=4)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        extra_arguments=["--InteractiveShell.xmode=Minimal"],
        coalesce_streams=True,  # one output per stream, as nbval compares them: the same bytes on every run
    )
    try:
        # cells tagged raises-exception may raise; any other error stops here
        client.execute(env=dict(os.environ, **NOTEBOOK_ENV, JBERT_MODEL=model_label))
    except CellExecutionError as e:
        failed = [
            i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))
        ]
        where = f"cell {failed[-1]}" if failed else "a cell"
        raise RefreshError(
            f"{path.name}: {where} raised {e.ename}: {e.evalue}\n"
            "Fix that cell, or, if the error is what the lesson teaches, give the cell the tag raises-exception. "
            "Nothing was written."
        ) from None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "raises-exception" in cell.metadata.get("tags", []):
            if not any(o.get("output_type") == "error" for o in cell.outputs):
                raise RefreshError(
                    f"{path.name}: cell {index} is tagged raises-exception but did not raise. "
                    "Remove the tag, or make the cell raise the error the lesson teaches. Nothing was written."
                )
    changed = cells = 0
    old_code = [c for c in old.cells if c.cell_type == "code"]
    new_code = [c for c in nb.cells if c.cell_type == "code"]
    by_source = {c.source: c for c in old_code}
    revision = model_revision(model_label)
    recorded = old.metadata.get("jbert", {})
    same_model = recorded.get("model") == model_label and recorded.get("revision", revision) == revision
    made_from = recorded.get("ignored_outputs", {})
    for cell in new_code:
        cells += 1
        before = by_source.get(cell.source)
        if (
            same_model
            and before is not None
            and ignored_cell(cell)
            and before.get("outputs")
            and made_from.get(before.get("id")) == fingerprint(cell.source)
        ):
            cell.outputs = before.outputs
        if before is None or _comparable(before) != _comparable(cell):
            changed += 1
    nb.metadata["jbert"] = {
        "model": model_label,
        "revision": revision,
        "mecab_dic": "ipadic",
        "versions": versions(),
        "ignored_outputs": {c.id: fingerprint(c.source) for c in new_code if ignored_cell(c)},
    }
    nb.metadata["kernelspec"] = {"name": "jbert", "display_name": "Python 3 (jbert)", "language": "python"}
    text = nbformat.writes(nb) + "\n"
    if text != path.read_text(encoding="utf-8"):
        path.write_text(text, encoding="utf-8")
    return RefreshResult(path, cells, changed)


def refresh(paths: Iterable[Path], model_label: str) -> list[RefreshResult]:
    """Refresh several notebooks with one model, printing one line per notebook."""
    results = []
    for p in paths:
        r = refresh_notebook(Path(p), model_label)
        print(r, flush=True)
        results.append(r)
    return results
