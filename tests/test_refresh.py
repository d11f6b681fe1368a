"""`jbert refresh`: stores outputs and metadata, counts changed cells, and is idempotent.

Run on a small notebook made in a temporary folder (never on the lessons).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest

from jbert_helpers.hubcache import HUB_MODEL_ID
from jbert_helpers.standin import STANDIN_VERSION
from jbert_helpers.tools.cli import main
from jbert_helpers.tools.refresh import model_revision, model_unavailable, refresh_notebook
from jbert_helpers.versions import RECORDED_PACKAGES


def _small_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# tiny"),
        nbformat.v4.new_code_cell('import os\nprint(os.environ["JBERT_MODEL"], os.environ["HF_HUB_OFFLINE"])'),
        nbformat.v4.new_code_cell("sum(range(10))"),
        nbformat.v4.new_code_cell(
            "import time\nprint(time.time_ns())",
            metadata={"tags": ["nbval-ignore-output"], "jbert": {"reason": "時刻は実行ごとに違う"}},
        ),
    ]
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def test_refresh_stores_outputs_and_is_idempotent(tmp_path: Path) -> None:
    path = _small_notebook(tmp_path / "tiny.ipynb")
    first = refresh_notebook(path, "standin")
    assert (first.cells, first.changed) == (3, 3)
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, 2, 3]
    assert code[0].outputs[0]["text"] == "standin 1\n"  # the kernel ran under NOTEBOOK_ENV with the model
    assert code[1].outputs[0]["data"]["text/plain"] == "45"
    meta = nb.metadata["jbert"]
    assert meta["model"] == "standin"
    assert meta["revision"] == f"standin-v{STANDIN_VERSION}"
    assert meta["mecab_dic"] == "ipadic"
    assert set(meta["versions"]) == set(RECORDED_PACKAGES)
    assert nb.metadata["kernelspec"]["name"] == "jbert"
    stored = path.read_bytes()

    second = refresh_notebook(path, "standin")
    assert second.changed == 0  # the timing cell keeps its stored output (same source, same model)
    assert path.read_bytes() == stored
    assert str(second) == "tiny.ipynb: 0 / 3 code cells' outputs changed"

    timing = nb.cells[3]
    assert meta["ignored_outputs"] == {timing.id: hashlib.sha256(timing.source.encode()).hexdigest()[:16]}

    nb.cells[2].source = "sum(range(11))"  # a real change is counted
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    third = refresh_notebook(path, "standin")
    assert third.changed == 1
    assert nbformat.read(path, as_version=4).cells[2].outputs[0]["data"]["text/plain"] == "55"


def test_an_edited_ignored_cell_gets_a_fresh_output(tmp_path: Path) -> None:
    """Edited in JupyterLab, a cell keeps its old output until run; refresh must not keep that output."""
    path = _small_notebook(tmp_path / "tiny.ipynb")
    refresh_notebook(path, "standin")
    nb = nbformat.read(path, as_version=4)
    old_output = nb.cells[3].outputs[0]["text"]
    nb.cells[3].source = "print('new code', 6 * 7)"
    path.write_text(nbformat.writes(nb), encoding="utf-8")  # the old time_ns() output is still attached
    result = refresh_notebook(path, "standin")
    cell = nbformat.read(path, as_version=4).cells[3]
    assert cell.outputs[0]["text"] == "new code 42\n" != old_output
    assert result.changed == 1


def test_refresh_command_refuses_a_model_not_available_here(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    path = _small_notebook(tmp_path / "tiny.ipynb")
    before = path.read_bytes()
    assert main(["refresh", "--model", HUB_MODEL_ID, str(path)]) == 2
    err = capsys.readouterr().err
    assert HUB_MODEL_ID in err and "jbert prefetch" in err
    assert path.read_bytes() == before


def test_refresh_command_names_a_missing_notebook(tmp_path: Path, capsys) -> None:
    assert main(["refresh", "--model", "standin", str(tmp_path / "nope.ipynb")]) == 2
    assert "nope.ipynb" in capsys.readouterr().err


def test_model_availability_and_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    assert model_unavailable("standin") is None
    reason = model_unavailable(HUB_MODEL_ID)
    assert reason is not None and "jbert prefetch" in reason
    assert model_unavailable(str(tmp_path)) is None  # a folder is taken as it is
    assert model_revision(HUB_MODEL_ID) is None
    assert model_revision("standin") == f"standin-v{STANDIN_VERSION}"


def test_refresh_stores_one_output_per_stream_as_nbval_compares(tmp_path: Path) -> None:
    """Prints cut into many messages (flushes, stderr between them) are stored as one stdout and one stderr."""
    nb = nbformat.v4.new_notebook()
    code = "import sys, time\nfor i in range(3):\n    print(i, flush=True); print('w', i, file=sys.stderr, flush=True); time.sleep(0.05)"
    nb.cells = [nbformat.v4.new_code_cell(code)]
    path = tmp_path / "streams.ipynb"
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    refresh_notebook(path, "standin")
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert [(o["name"], o["text"]) for o in outputs] == [("stdout", "0\n1\n2\n"), ("stderr", "w 0\nw 1\nw 2\n")]


def test_an_unexpected_error_names_the_cell_and_writes_nothing(tmp_path: Path) -> None:
    from jbert_helpers.tools.refresh import RefreshError

    path = tmp_path / "bad.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('before')"), nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nb, path)
    before = path.read_bytes()
    with pytest.raises(RefreshError, match=r"(?s)bad.ipynb: cell 1 raised ZeroDivisionError.*raises-exception"):
        refresh_notebook(path, "standin")
    assert path.read_bytes() == before


@pytest.mark.slow  # every lesson executed once (a few minutes): `make ci`
def test_committed_notebooks_are_what_refresh_writes(tmp_path: Path) -> None:
    """Committed = refreshed: `jbert refresh` with each notebook's recorded model changes no byte of a copy.

    When this fails, the committed outputs are stale (code or environment changed since the last refresh):
    run `.venv/bin/jbert refresh --model standin` in the checkout and commit the notebooks."""
    import shutil

    from jbert_helpers.tools.refresh import recorded_model

    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    stale = []
    for source in sorted(notebooks.glob("*.ipynb")):
        label = recorded_model(source)
        assert label is not None, f"{source.name}: no metadata.jbert.model"
        if model_unavailable(label):
            pytest.fail(f"{source.name} was stored with {label}, which is not here: cannot check it")
        copy = shutil.copy(source, tmp_path / source.name)
        result = refresh_notebook(Path(copy), label)
        if result.changed or Path(copy).read_bytes() != source.read_bytes():
            stale.append(f"{result} (file differs: {Path(copy).read_bytes() != source.read_bytes()})")
    assert not stale, "refresh changes the committed notebooks:\n" + "\n".join(stale)


def test_refresh_and_handout_default_to_the_working_directorys_notebooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No paths given: ./notebooks of the working directory, never the checkout the package came from."""
    monkeypatch.chdir(tmp_path)
    assert main(["refresh", "--model", "standin"]) == 2
    assert f"{tmp_path / 'notebooks'} にノートブックがありません" in capsys.readouterr().err
    assert main(["handout", "--out", "out"]) == 2
    assert f"{tmp_path / 'notebooks'} にノートブックがありません" in capsys.readouterr().err
