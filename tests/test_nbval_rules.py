"""How nbval validates stored notebooks (conftest.py, nbval_sanitize.cfg): a notebook recorded with the
real model is validated on the stand-in where the real model is absent — never skipped — and only the
lines that name the model may differ; a notebook without ``metadata.jbert`` fails.

Each case runs pytest + nbval in a fresh process on a small notebook in ``build/`` (inside the
repository, so its conftest.py applies), with an empty hub cache: the real model is not here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from jbert_helpers.hubcache import HUB_MODEL_ID

ROOT = Path(__file__).resolve().parent.parent
CODE = (
    "from transformers import BertJapaneseTokenizer\n"
    "from jbert_helpers import resolve_model_name\n"
    "model_name = resolve_model_name()\n"
    "tokenizer = BertJapaneseTokenizer.from_pretrained(model_name, mecab_kwargs={'mecab_dic': 'ipadic'})\n"
    "print(tokenizer('明日の天気は晴れだ。')['input_ids'])"
)
# What a kernel with the real model printed (the banner names the model; the ids are the reference notebook's).
REAL_OUTPUT = (
    f"[jbert] モデル: {HUB_MODEL_ID}（理由: キャッシュ済み、HF_HUB_OFFLINE=1）\n"
    "[2, 11475, 5, 11385, 9, 16577, 75, 8, 3]\n"
)


@pytest.fixture
def folder() -> Iterator[Path]:
    path = ROOT / "build" / f"nbval-rules-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _notebook(folder: Path, output: str, metadata: dict | None) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(CODE, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
    nb.cells = [cell]
    if metadata is not None:
        nb.metadata["jbert"] = metadata
    path = folder / "lesson.ipynb"
    nbformat.write(nb, path)
    return path


def _nbval(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "JBERT_MODEL", "JBERT_NBVAL", "PYTEST_"))}
    env.update(HF_HUB_CACHE=str(tmp_path / "empty-hub"), HF_HOME=str(tmp_path / "hf-home"))
    cmd = [sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", "-rA", str(path)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_recorded_with_the_real_model_is_validated_on_the_standin(folder: Path, tmp_path: Path) -> None:
    done = _nbval(_notebook(folder, REAL_OUTPUT, {"model": HUB_MODEL_ID}), tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed" in done.stdout and "skipped" not in done.stdout


def test_anything_but_the_banner_must_match(folder: Path, tmp_path: Path) -> None:
    wrong = REAL_OUTPUT.replace("16577", "16578")  # one id off: a real regression, not a model difference
    done = _nbval(_notebook(folder, wrong, {"model": HUB_MODEL_ID}), tmp_path)
    assert done.returncode == 1 and "1 failed" in done.stdout, done.stdout[-3000:]


def test_a_notebook_without_metadata_fails(folder: Path, tmp_path: Path) -> None:
    done = _nbval(_notebook(folder, REAL_OUTPUT, None), tmp_path)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "no metadata.jbert.model" in done.stdout and "jbert refresh" in done.stdout
