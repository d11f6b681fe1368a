"""No network call can hold a lesson up, and nothing from the network runs as code.

The hub is replaced by a local socket (127.0.0.1, an ephemeral port) that accepts connections
and never answers, or by a host name that cannot resolve (``.invalid``). Each case runs in a
fresh Python process (as a kernel would: huggingface_hub reads ``HF_HUB_CACHE`` and
``HF_ENDPOINT`` when it is imported) with ``HF_HUB_OFFLINE`` and ``JBERT_MODEL`` unset and an
empty hub cache, and times the lesson's own first cell: ``resolve_model_name()`` then the
tokenizer's and the model's ``from_pretrained``.

Then: a pickled checkpoint (the Hub's ``pytorch_model.bin``) is loaded only by transformers with
``torch.load(weights_only=True)``, so a pickle that would run code is refused; nothing passes
``trust_remote_code=True`` or ``weights_only=False``.

The time limits are hang guards, not speed goals (those are in ``scripts/benchmark.py``): the
book's call waits 235 s on an unreachable hub, these cases take about 3 s, and a loaded CI machine
is allowed ten times that.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jbert_helpers.standin import HUB_FILES, ensure_standin, is_standin

ROOT = Path(__file__).resolve().parent.parent
RESOLVE_LIMIT = 60.0  # seconds for resolve_model_name / choose_model (normally <= 3 s)
LESSON_LIMIT = 100.0  # seconds for the whole first cell: resolve + tokenizer + model (normally <= 4 s)

FIRST_CELL = """
import json, time
out = {}
try:
    from jbert_helpers.models import choose_model
    if LOAD:  # a kernel has imported these in an earlier cell; only the calls are timed
        from transformers import BertJapaneseTokenizer, BertModel
    t1 = time.perf_counter()
    choice = choose_model()
    out.update(name=choice.name, kind=choice.kind, reason=choice.reason, banner=choice.banner())
    out["resolve_s"] = time.perf_counter() - t1
    if LOAD:
        t2 = time.perf_counter()
        BertJapaneseTokenizer.from_pretrained(choice.name, mecab_kwargs={"mecab_dic": "ipadic"})
        BertModel.from_pretrained(choice.name)
        out["load_s"] = time.perf_counter() - t2
except Exception as e:
    out.update(error=type(e).__name__, message=str(e))
out["cell_s"] = time.perf_counter() - t1  # the lesson's calls, after the imports
print("RESULT " + json.dumps(out))
"""


class HangingHub(str):
    """The endpoint's URL; ``connections`` counts the connections it accepted (and never answered)."""

    held: list[socket.socket]

    @property
    def connections(self) -> int:
        return len(self.held)


@pytest.fixture
def hanging_endpoint() -> Iterator[HangingHub]:
    """http://127.0.0.1:<port>: accepts every connection, reads nothing, answers nothing."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    hub = HangingHub(f"http://127.0.0.1:{server.getsockname()[1]}")
    hub.held = held
    yield hub
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def run_first_cell(tmp_path: Path, endpoint: str, *, load: bool = True, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "JBERT_MODEL", "HF_HOME"}}
    environ.update(
        HF_ENDPOINT=endpoint,
        HF_HUB_CACHE=str(tmp_path / "hub"),
        HF_HOME=str(tmp_path / "hf-home"),
        JBERT_CACHE_DIR=str(ensure_standin().parent),  # the session's stand-in, prebuilt
        **env,
    )
    code = f"LOAD = {load}\n" + FIRST_CELL
    proc = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and line, proc.stderr[-3000:]
    return json.loads(line[-1].removeprefix("RESULT "))


@pytest.mark.parametrize("endpoint", ["hanging", "http://nonexistent.invalid"])
def test_unreachable_hub_gives_the_standin_quickly(tmp_path: Path, hanging_endpoint: HangingHub, endpoint: str) -> None:
    url = hanging_endpoint if endpoint == "hanging" else endpoint
    result = run_first_cell(tmp_path, url)
    if endpoint == "hanging":  # one bounded check by resolve; loading the stand-in never connects
        assert hanging_endpoint.connections == 1
    assert "error" not in result, result
    assert result["kind"] == "standin" and is_standin(result["name"])
    assert "代役" in result["banner"] and "prefetch" in result["banner"]  # says what and how to get the real one
    assert result["resolve_s"] < RESOLVE_LIMIT, result
    assert result["cell_s"] < LESSON_LIMIT, result  # loading the stand-in asks nothing of the network


def test_hub_id_not_cached_with_hanging_hub_is_a_clear_error(tmp_path: Path, hanging_endpoint: HangingHub) -> None:
    result = run_first_cell(tmp_path, hanging_endpoint, load=False, JBERT_MODEL="someone/not-cached-bert")
    assert result.get("error") == "ModelResolutionError", result
    assert "JBERT_MODEL=someone/not-cached-bert" in result["message"]
    assert "prefetch" in result["message"] and "standin" in result["message"]  # the two ways out
    assert result["cell_s"] < RESOLVE_LIMIT, result


def test_cached_real_model_with_hanging_hub_loads_from_the_cache(
    tmp_path: Path, hanging_endpoint: HangingHub, fake_hub_cache: Callable[..., Path]
) -> None:
    standin = ensure_standin()
    snapshot = fake_hub_cache(tmp_path / "hub", {n: standin / n for n in HUB_FILES})
    result = run_first_cell(tmp_path, hanging_endpoint)
    assert "error" not in result, result
    assert result["kind"] == "hub" and Path(result["name"]) == snapshot  # the directory: no network on load
    assert hanging_endpoint.connections == 1  # resolve's one check; from_pretrained(directory) asks nothing
    assert result["resolve_s"] < RESOLVE_LIMIT and result["cell_s"] < LESSON_LIMIT, result


# --- pickled weights only through transformers' safe loading, no remote code ----------------------------
def test_a_cache_whose_pickle_is_not_a_checkpoint_fails_safely(
    tmp_path: Path, fake_hub_cache: Callable[..., Path]
) -> None:
    """pytorch_model.bin is loaded only by transformers, with torch.load(weights_only=True): a pickle that
    would run code when unpickled is refused, it never runs."""
    import pickle

    standin = ensure_standin()
    files = {n: standin / n for n in ("config.json", "tokenizer_config.json", "vocab.txt")}
    evil = tmp_path / "pytorch_model.bin"
    marker = tmp_path / "pwned"
    evil.write_bytes(pickle.dumps(Exploit(str(marker))))
    fake_hub_cache(tmp_path / "hub", {**files, "pytorch_model.bin": evil})
    result = run_first_cell(tmp_path, "http://nonexistent.invalid", HF_HUB_OFFLINE="1")
    assert result.get("error"), result  # the load fails ...
    assert not marker.exists()  # ... and the pickle's code never ran


class Exploit:
    """A pickle payload: unpickling it (without weights_only) would create a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, ...]]:
        return (os.system, (f"touch {self.path}",))


FORBIDDEN = {
    "trust_remote_code=True": re.compile(r"trust_remote_code\s*=\s*True"),
    "weights_only=False": re.compile(r"weights_only\s*=\s*False"),
    "torch.load(": re.compile(r"torch\.load\s*\("),
    "pickle.load": re.compile(r"pickle\.loads?\s*\("),
}


def _sources() -> list[Path]:
    return sorted([*ROOT.glob("jbert_helpers/*.py"), *ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("scripts/*.py")])


def test_no_remote_code_and_no_pickled_weights_in_package_and_notebooks() -> None:
    found = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":  # code cells only: a lesson may *explain* what not to do
            cells = json.loads(text)["cells"]
            text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        found += [f"{path.relative_to(ROOT)}: {what}" for what, rx in FORBIDDEN.items() if rx.search(text)]
    assert found == []
    assert any(p.suffix == ".py" for p in _sources())


def test_standin_weights_are_a_zip_checkpoint_like_the_hubs() -> None:
    names = sorted(p.name for p in ensure_standin().iterdir())
    assert names == ["config.json", "jbert_standin.json", "pytorch_model.bin", "tokenizer_config.json", "vocab.txt"]
    assert (ensure_standin() / "pytorch_model.bin").read_bytes()[
        :4
    ] == b"PK\x03\x04"  # torch.save's zip, no bare pickle
