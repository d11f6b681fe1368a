"""The stand-in cache under faults: each ends in a working stand-in or a clear error, never a wrong
model and never a hang.

* two processes materialising it at once (real subprocesses, one fresh ``JBERT_CACHE_DIR``);
* a build killed with SIGKILL half-way, plus a final directory left without its marker;
* a cache directory that cannot be created (under a regular file: ENOTDIR; under /proc);
* a disk that fills up while the 442 MB of weights are written (RLIMIT_FSIZE in a subprocess);
* weights truncated, with a garbage header, or with overwritten stretches of data.

Every build writes ~440 MB, so this file completes four builds (and stops two half-way), in fresh temporary
directories that it deletes. "Not a wrong model" is checked byte for byte: a rebuilt
``pytorch_model.bin`` has the sha256 of the session's stand-in (the build is deterministic).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jbert_helpers.errors import ModelResolutionError, StandinError
from jbert_helpers.models import choose_model
from jbert_helpers.standin import (
    HEAD_KEYS,
    HUB_CONFIG,
    MARKER,
    WEIGHTS_NAME,
    ensure_standin,
    standin_path,
    standin_problem,
    weight_shapes,
    weights_fingerprint,
)

TIMEOUT = 240  # seconds: a subprocess that takes longer has hung, and fails the test
ENSURE = "from jbert_helpers.standin import ensure_standin; print(ensure_standin())"


SESSION_STANDIN = ensure_standin()  # at import, before any test points JBERT_CACHE_DIR elsewhere


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


@pytest.fixture(scope="module")
def reference_sha() -> str:
    """sha256 of the session's stand-in weights: what every rebuild must reproduce."""
    return sha256(SESSION_STANDIN / WEIGHTS_NAME)


@pytest.fixture
def cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("jbert-cache")
    monkeypatch.setenv("JBERT_CACHE_DIR", str(root))
    yield root
    shutil.rmtree(root, ignore_errors=True)  # ~440 MB per build: never leave it behind


def run_python(code: str, cache_dir: Path | str, **kwargs: object) -> subprocess.Popen[str]:
    env = dict(os.environ, JBERT_CACHE_DIR=str(cache_dir))
    return subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob(".standin-build-*"))


# --- concurrency --------------------------------------------------------------------------------
def test_two_processes_materialise_at_once(cache: Path, reference_sha: str) -> None:
    procs = [run_python(ENSURE, cache) for _ in range(2)]
    results = [p.communicate(timeout=TIMEOUT) for p in procs]
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err[-2000:]
    paths = {out.strip() for out, _ in results}
    assert paths == {str(standin_path(cache))}
    final = standin_path(cache)
    assert standin_problem(final) is None
    assert leftovers(cache) == []  # both temporary builds and any moved-aside copy are gone
    # two builds in different directories give the same bytes (also the determinism check)
    assert sha256(final / WEIGHTS_NAME) == reference_sha


def test_the_loser_of_a_race_keeps_the_winners_copy(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While this process builds, another one finishes first: its copy (which a kernel may be
    loading at that moment) is kept, not swapped for ours."""
    import jbert_helpers.standin as standin_module

    final = standin_path(cache)

    def build_while_another_process_wins(target: Path, seed: int | None = None) -> Path:
        final.mkdir()  # the winner: hard links to the session's stand-in (no 440 MB written)
        for f in SESSION_STANDIN.iterdir():
            os.link(f, final / f.name)
        (target / WEIGHTS_NAME).write_bytes(b"ours")
        return target

    monkeypatch.setattr(standin_module, "build_standin", build_while_another_process_wins)
    assert ensure_standin() == final
    assert (final / WEIGHTS_NAME).samefile(SESSION_STANDIN / WEIGHTS_NAME)
    assert leftovers(cache) == []


# --- a build killed half-way, a final directory without marker ------------------------------------------
def test_killed_build_and_partial_final_dir_are_recovered(cache: Path, reference_sha: str) -> None:
    proc = run_python(ENSURE, cache)
    deadline = time.monotonic() + TIMEOUT
    while not list(cache.glob(".standin-build-*/config.json")):  # the weights are being generated
        assert proc.poll() is None, "the build ended before it could be killed"
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    final = standin_path(cache)
    assert not final.exists(), "a killed build must never leave the final directory"
    (killed,) = leftovers(cache)

    # ... and a final directory that a crash left without its marker (half the weights)
    final.mkdir()
    shutil.copyfile(_session_standin() / "vocab.txt", final / "vocab.txt")
    (final / WEIGHTS_NAME).write_bytes(b"\0" * 1000)
    assert standin_problem(final) is not None

    # the killed build is old (stale): removed; a fresh one (another kernel still building): kept
    old = time.time() - 3600
    os.utime(cache / killed, (old, old))
    (cache / ".standin-build-other").mkdir()

    path = ensure_standin()
    assert path == final and standin_problem(final) is None
    assert sha256(final / WEIGHTS_NAME) == reference_sha
    assert leftovers(cache) == [".standin-build-other"]


# --- a cache directory that cannot be written -------------------------------------------------------
@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_unwritable_cache_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    # Tests run as root, where chmod does not stop writes: use paths whose mkdir fails for anyone.
    if where == "under-a-file":
        blocker = tmp_path / "a-file"
        blocker.write_text("not a directory")
        root = blocker / "cache"  # mkdir: ENOTDIR
    else:
        root = Path("/proc/jbert-cache")  # mkdir: ENOENT, procfs takes no new entries
    monkeypatch.setenv("JBERT_CACHE_DIR", str(root))
    with pytest.raises(StandinError, match="JBERT_CACHE_DIR") as info:
        ensure_standin()
    assert str(root) in str(info.value)
    # the lessons' own entry points give the same error, not a traceback from deep inside
    monkeypatch.setenv("JBERT_MODEL", "standin")
    with pytest.raises(StandinError, match="JBERT_CACHE_DIR"):
        choose_model()
    monkeypatch.delenv("JBERT_MODEL")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    with pytest.raises(StandinError, match="JBERT_CACHE_DIR"):
        choose_model()


def test_error_types_are_one_family() -> None:
    assert issubclass(StandinError, RuntimeError) and not issubclass(StandinError, ModelResolutionError)


# --- the disk fills up while the weights are written -------------------------------------------------
DISK_FULL = """
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (50 << 20, 50 << 20))
from jbert_helpers.standin import ensure_standin
try:
    ensure_standin()
except Exception as e:
    print(type(e).__name__)
    print(e)
"""


def test_disk_full_during_build_is_a_clear_error(cache: Path) -> None:
    proc = run_python(DISK_FULL, cache)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err[-2000:]
    name, _, message = out.partition("\n")
    assert name == "StandinError", out
    assert "JBERT_CACHE_DIR" in message and "450 MB" in message
    assert not standin_path(cache).exists()
    assert leftovers(cache) == []  # the half-written build is removed


# --- corrupted weights ------------------------------------------------------------------------------
def test_corrupted_weights_are_detected_and_rebuilt(cache: Path, reference_sha: str) -> None:
    """Each damage is detected by the warm-start check (so ensure_standin rebuilds); one rebuild at the end."""
    from transformers import BertModel

    final = standin_path(cache)
    weights = final / WEIGHTS_NAME
    size = SESSION_STANDIN.joinpath(WEIGHTS_NAME).stat().st_size

    def fresh_copy() -> None:
        shutil.rmtree(final, ignore_errors=True)
        final.mkdir()
        for f in SESSION_STANDIN.iterdir():
            shutil.copyfile(f, final / f.name)
        marker = json.loads((final / MARKER).read_text())  # as a fresh build writes it, whatever
        marker["weights_fingerprint"] = weights_fingerprint(weights)  # built the session's copy
        (final / MARKER).write_text(json.dumps(marker))
        assert standin_problem(final) is None

    # 1. same size, a garbage start: from_pretrained alone would fail deep inside torch.load (which
    #    error depends on the bytes; for some, torch's advice is weights_only=False, dangerous to follow)
    fresh_copy()
    with weights.open("r+b") as f:
        f.write(bytes(range(64)))
    assert "壊れて" in str(standin_problem(final))
    with pytest.raises(Exception):  # noqa: B017 (any error: the point is that it is not ours)
        BertModel.from_pretrained(str(final))  # what a learner would meet without the check

    # 2. a marker without a fingerprint (hand-made, or from an older jbert): not trusted
    marker = json.loads((final / MARKER).read_text())
    marker.pop("weights_fingerprint")
    (final / MARKER).write_text(json.dumps(marker))
    assert "壊れて" in str(standin_problem(final))

    # 3. same size, a stretch of the weights overwritten (longer than the fingerprint's 7 MB gap
    #    between samples): it would load without any error as a *wrong* model
    fresh_copy()
    with weights.open("r+b") as f:
        f.seek(size // 3)
        f.write(b"\0" * (8 << 20))
    assert "壊れて" in str(standin_problem(final))

    # 4. truncated (a copy interrupted, a full disk): the size check
    with weights.open("r+b") as f:
        f.truncate(size // 2)
    assert "大きさ" in str(standin_problem(final))

    # the next ensure_standin rebuilds it: the right bytes, and it loads
    assert ensure_standin() == final
    assert standin_problem(final) is None and sha256(weights) == reference_sha
    BertModel.from_pretrained(str(final))
    assert leftovers(cache) == []


def _session_standin() -> Path:
    """The stand-in the test session uses (the conftest materialised it before JBERT_CACHE_DIR changed)."""
    return SESSION_STANDIN


# --- the fast build computes what BertModel would ---------------------------------------------------
@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "num_hidden_layers": 2,
            "vocab_size": 100,
            "intermediate_size": 64,
            "hidden_size": 32,
            "num_attention_heads": 2,
        },
    ],
)
def test_weight_shapes_formula_equals_bertmodel(overrides: dict[str, int]) -> None:
    import torch
    from transformers import BertConfig, BertModel

    config = {**HUB_CONFIG, **overrides}
    with torch.device("meta"):
        model = BertModel(BertConfig(**config), add_pooling_layer=True)
    expected = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert list(weight_shapes(config).items()) == expected  # names, shapes and order


def test_loaded_standin_has_exactly_the_stored_weights() -> None:
    """from_pretrained neither drops nor re-initialises a tensor of the file (no "wrong model"), and
    leaves unused exactly the 8 pre-training head keys, as with the real checkpoint."""
    import torch
    from transformers import BertModel

    path = ensure_standin()
    stored = torch.load(path / WEIGHTS_NAME, weights_only=True)  # our own file, in a test only
    model, info = BertModel.from_pretrained(str(path), output_loading_info=True)
    state = model.state_dict()
    assert {f"bert.{k}" for k in state} | set(HEAD_KEYS) == set(stored)
    assert sorted(info["unexpected_keys"]) == sorted(HEAD_KEYS) and not info["missing_keys"]
    for name, tensor in state.items():
        assert torch.equal(stored[f"bert.{name}"], tensor), name
    assert (
        stored["cls.predictions.decoder.weight"].data_ptr()
        == stored["bert.embeddings.word_embeddings.weight"].data_ptr()
    )
