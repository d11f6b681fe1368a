"""The package as a learner or a teacher installs it: a wheel in a fresh venv, used outside any checkout.

Builds the wheel (``python -m build``) from a copy of the source tree, installs it with the pinned
dependencies (``-c constraints.txt``; pip takes them from its cache) into a new venv in a temporary
folder, and from a working directory that is not a checkout runs ``jbert doctor``, ``jbert prefetch
--standin``, ``jbert refresh`` (default: ``notebooks/`` of the working directory), ``jbert handout`` and one
lesson under nbval. Nothing may read or write the checkout the tests run from. Slow (a venv install):
``make ci``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from jbert_helpers.tools.kernelenv import NOTEBOOK_ENV

ROOT = Path(__file__).resolve().parent.parent
LESSON = "04-09_padding.ipynb"
IGNORE = shutil.ignore_patterns(
    ".git", ".venv*", "artifacts", "build", "dist", "node_modules", "*.egg-info", "__pycache__", ".hypothesis"
)


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(cmd)} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.glob("*.ipynb")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PYTEST")}
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=IGNORE)
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(source)], tmp, env)
    (wheel,) = (tmp / "dist").glob("jbert_helpers-*.whl")
    target = tmp / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    pip = [
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-c",
        str(ROOT / "constraints.txt"),
    ]
    _run([*pip, str(wheel), "-r", str(ROOT / "requirements.txt")], tmp, env)
    _run([str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", "jbert"], tmp, env)
    return {"tmp": tmp, "venv": target, "python": python, "jbert": target / "bin" / "jbert"}


@pytest.fixture
def work(installed: dict[str, Path], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A working folder that is not a checkout, and the environment a teacher's shell would have."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / LESSON, tmp_path / "notebooks" / LESSON)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PYTEST")}
    env.update(
        PATH=f"{installed['venv'] / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        HF_HUB_OFFLINE="1",
        HF_HUB_CACHE=str(tmp_path / "hub"),
        JBERT_CACHE_DIR=str(installed["tmp"] / "jbert-cache"),
    )
    env.pop("JBERT_MODEL", None)
    return tmp_path, env


@pytest.mark.slow
def test_the_wheel_works_outside_a_checkout(installed: dict[str, Path], work: tuple[Path, dict[str, str]]) -> None:
    folder, env = work
    checkout_before = _digest(ROOT / "notebooks")
    where = _run([str(installed["python"]), "-c", "import jbert_helpers; print(jbert_helpers.__file__)"], folder, env)
    assert where.stdout.strip().startswith(str(installed["venv"])), where.stdout  # the wheel's copy, not the checkout

    prefetch = _run([str(installed["jbert"]), "prefetch", "--standin"], folder, env)
    assert "stand-in ready" in prefetch.stdout

    doctor = _run([str(installed["jbert"]), "doctor", "--json"], folder, env)
    report = json.loads(doctor.stdout)
    assert report["ok"] is True and report["model"]["label"] == "standin"
    rows = {c["name"]: c for c in report["checks"]}
    assert "jbert-helpers" not in rows  # the package's metadata is there: versions are checked against it
    assert rows["transformers"]["status"] == "ok" and rows["transformers"]["detail"].endswith("(<6,>=5.0)")

    refreshed = _run([str(installed["jbert"]), "refresh", "--model", "standin"], folder, env)  # default: ./notebooks
    assert f"{LESSON}: " in refreshed.stdout and "1 notebook(s)" in refreshed.stdout
    stored = json.loads((folder / "notebooks" / LESSON).read_text(encoding="utf-8"))
    assert stored["metadata"]["jbert"]["model"] == "standin"

    _run([str(installed["jbert"]), "handout", "--out", "handout"], folder, env)  # default: ./notebooks
    assert [p.name for p in (folder / "handout").iterdir()] == [LESSON]

    lesson = folder / "lesson"
    lesson.mkdir()
    shutil.copy(ROOT / "notebooks" / LESSON, lesson / LESSON)  # the committed outputs, not the refreshed ones
    shutil.copy(ROOT / "nbval_sanitize.cfg", lesson / "nbval_sanitize.cfg")
    nbval_env = dict(env, **NOTEBOOK_ENV, JBERT_MODEL="standin")
    nbval = [str(installed["python"]), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env"]
    done = _run([*nbval, "--nbval-sanitize-with", "nbval_sanitize.cfg", LESSON], lesson, nbval_env)
    assert " passed" in done.stdout and "failed" not in done.stdout

    assert _digest(ROOT / "notebooks") == checkout_before  # nothing wrote into the checkout
