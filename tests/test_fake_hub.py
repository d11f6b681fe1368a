"""The real-model path against what the Hub really serves, offline: a fake Hub on 127.0.0.1 serves
the stand-in replica as ``tohoku-nlp/bert-base-japanese-whole-word-masking`` (``main`` with
``pytorch_model.bin`` only, the conversion bot's ``refs/pr/1`` with ``model.safetensors``).

(a) the book's plain ``from_pretrained(hub id)`` calls work and fill the cache as transformers does,
    including the background safetensors fetch from ``refs/pr/1``;
(b) afterwards, offline, ``resolve_model_name()`` chooses the cached real model;
(c) ``jbert prefetch`` downloads what ``main`` has and ``jbert doctor`` reports the real model;
    ``--from`` accepts a copy of the cache transformers filled;
(d) a variant whose ``main`` has ``model.safetensors`` works too;
(e) 404, 500 or a cut download give a clear error and leave nothing half-installed.

Every case runs in a fresh interpreter (huggingface_hub reads its environment at import) whose
proxies point at a closed local port, so a request to anywhere but the fake Hub fails at once
instead of leaving the machine. Each fake Hub's request log is written to ``artifacts/fake-hub/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakehub import FakeHub, replica_files

from jbert_helpers.hubcache import HUB_MODEL_ID, repo_folder
from jbert_helpers.standin import HEAD_KEYS, build_conversion_safetensors, ensure_standin, sha256_file

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "artifacts" / "fake-hub"
HANG_GUARD = 600  # seconds: a subprocess that takes longer has hung (each case normally takes 5-20 s)
CONFIG_FILES = ("config.json", "tokenizer_config.json", "vocab.txt")

BOOK_CALLS = """
import json, threading
from transformers import BertJapaneseTokenizer, BertModel
model_name = "tohoku-nlp/bert-base-japanese-whole-word-masking"
tokenizer = BertJapaneseTokenizer.from_pretrained(model_name)  # the book's calls, unchanged
bert = BertModel.from_pretrained(model_name)
for t in threading.enumerate():  # transformers fetches model.safetensors in the background
    if t.name == "Thread-auto_conversion":
        t.join(300)
print("RESULT " + json.dumps({"ids": tokenizer.encode("明日の天気は晴れだ。"), "layers": bert.config.num_hidden_layers}))
"""

RESOLVE_AND_LOAD = """
import json, time
t = time.perf_counter()
from jbert_helpers.models import choose_model
imported = time.perf_counter() - t
t = time.perf_counter()
choice = choose_model()
seconds = time.perf_counter() - t
from transformers import BertJapaneseTokenizer, BertModel
tokenizer = BertJapaneseTokenizer.from_pretrained(choice.name, mecab_kwargs={"mecab_dic": "ipadic"})
model, info = BertModel.from_pretrained(choice.name, output_loading_info=True)
print("RESULT " + json.dumps({"name": choice.name, "kind": choice.kind, "label": choice.label,
      "reason": choice.reason, "choose_s": seconds, "import_s": imported,
      "unexpected": sorted(info["unexpected_keys"]), "missing": sorted(info["missing_keys"])}))
"""


def _env(cache: Path, hub: FakeHub | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "JBERT_MODEL", "DISABLE_SAFETENSORS"))}
    env.update(
        HF_HUB_CACHE=str(cache),
        HF_HOME=str(cache.parent / "hf-home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        NO_PROXY="127.0.0.1,localhost",
        JBERT_CACHE_DIR=str(ensure_standin().parent),
    )
    if hub is not None:
        env["HF_ENDPOINT"] = hub.url
    env.update(extra)
    return {k: v for k, v in env.items() if v != ""}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=HANG_GUARD)


def _result(done: subprocess.CompletedProcess[str]) -> dict:
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


def _jbert(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "jbert_helpers.tools.cli", *args], env)


def _save_log(hub: FakeHub, name: str) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / f"{name}.log").write_text("".join(f"{m} {p} {s}\n" for m, p, s in hub.requests()))


def _snapshot_names(cache: Path, commit: str) -> list[str]:
    folder = repo_folder(HUB_MODEL_ID, cache) / "snapshots" / commit
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The stand-in's files plus the conversion bot's model.safetensors (built once, ~445 MB, removed after)."""
    root = tmp_path_factory.mktemp("replica")
    converted = build_conversion_safetensors(root / "pr" / "model.safetensors")
    yield {"standin": ensure_standin(), "converted": converted, "extra": root / "extra"}
    converted.unlink()


def _hub(replica: dict[str, Path], **kwargs: object) -> FakeHub:
    main, pr = replica_files(
        replica["standin"],
        replica["converted"],
        extra=replica["extra"],
        safetensors_on_main=bool(kwargs.pop("safetensors_on_main", False)),
    )
    return FakeHub(main, pr, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def book_cache(
    replica: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, FakeHub, dict]]:
    """(a) A cache filled by the book's own calls against the fake Hub, with the conversion thread on."""
    cache = tmp_path_factory.mktemp("book") / "hub"
    with _hub(replica) as hub:
        done = _run([sys.executable, "-c", BOOK_CALLS], _env(cache, hub, TRANSFORMERS_VERBOSITY="info"))
        result = _result(done)
        _save_log(hub, "a-book-calls")
        yield cache, hub, {"result": result, "stderr": done.stderr}


def test_a_book_calls_work_and_fill_the_cache_as_transformers_does(book_cache: tuple[Path, FakeHub, dict]) -> None:
    cache, hub, out = book_cache
    assert out["result"] == {"ids": [2, 11475, 5, 11385, 9, 16577, 75, 8, 3], "layers": 12}  # the seed's ids
    repo = repo_folder(HUB_MODEL_ID, cache)
    assert (repo / "refs" / "main").read_text() == hub.main_commit
    assert _snapshot_names(cache, hub.main_commit) == sorted([*CONFIG_FILES, "pytorch_model.bin"])
    # the background conversion found the bot's PR and fetched its model.safetensors into refs/pr/1
    assert (repo / "refs" / "refs" / "pr" / "1").read_text() == hub.pr_commit
    assert _snapshot_names(cache, hub.pr_commit) == ["model.safetensors"]
    pr_file = repo / "snapshots" / hub.pr_commit / "model.safetensors"
    assert sha256_file(pr_file) == sha256_file(hub.pr_files["model.safetensors"])
    assert "Safetensors PR exists" in out["stderr"]
    assert "Attempting to convert .bin model on the fly" not in out["stderr"]  # the outside service: never
    # what the learner sees: the LOAD REPORT of the 8 pre-training head keys
    assert "BertModel LOAD REPORT" in out["stderr"]
    rows = {ln.split("|")[0].strip() for ln in out["stderr"].splitlines() if "| UNEXPECTED" in ln}
    assert rows == set(HEAD_KEYS)
    asked = [p for _, p, _ in hub.requests()]
    assert any("/discussions" in p for p in asked) and any("commits/refs%2Fpr%2F1" in p for p in asked)
    assert not any("model.safetensors" in p and "/resolve/main/" in p and s == 200 for _, p, s in hub.requests())


def test_b_offline_afterwards_resolve_chooses_the_cached_real_model(book_cache: tuple[Path, FakeHub, dict]) -> None:
    cache, hub, _ = book_cache
    before = len(hub.requests())
    done = _run([sys.executable, "-c", RESOLVE_AND_LOAD], _env(cache, hub, HF_HUB_OFFLINE="1"))
    out = _result(done)
    assert (out["name"], out["kind"], out["label"]) == (HUB_MODEL_ID, "hub", HUB_MODEL_ID)
    assert "HF_HUB_OFFLINE=1" in out["reason"]
    assert out["missing"] == [] and out["unexpected"] == sorted(HEAD_KEYS)  # loaded from pytorch_model.bin
    assert len(hub.requests()) == before  # offline means offline
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / "b-resolve-offline.json").write_text(json.dumps(out, indent=2) + "\n")


def test_b_a_copy_of_that_cache_imports_with_from(book_cache: tuple[Path, FakeHub, dict], tmp_path: Path) -> None:
    cache, hub, _ = book_cache
    archive = tmp_path / "bert-wwm.tar"
    with tarfile.open(archive, "w") as tf:  # what docs/teachers.md tells a teacher to copy
        tf.add(repo_folder(HUB_MODEL_ID, cache), arcname=repo_folder(HUB_MODEL_ID, cache).name)
    classroom = tmp_path / "classroom" / "hub"
    done = _jbert("prefetch", "--from", str(archive), env=_env(classroom, None, HF_HUB_OFFLINE="1"))
    assert done.returncode == 0, done.stderr
    assert "事前学習ヘッドの重み 8 個" in done.stdout and "LOAD REPORT" not in done.stderr
    assert (repo_folder(HUB_MODEL_ID, classroom) / "refs" / "main").read_text() == hub.main_commit
    assert _snapshot_names(classroom, hub.main_commit) == sorted([*CONFIG_FILES, "pytorch_model.bin"])
    out = _result(_run([sys.executable, "-c", RESOLVE_AND_LOAD], _env(classroom, None, HF_HUB_OFFLINE="1")))
    assert out["kind"] == "hub" and out["label"] == HUB_MODEL_ID


def test_c_prefetch_downloads_what_main_has_and_doctor_reports_the_real_model(
    replica: dict[str, Path], tmp_path: Path
) -> None:
    cache = tmp_path / "hub"
    with _hub(replica) as hub:
        done = _jbert("prefetch", env=_env(cache, hub, DISABLE_SAFETENSORS_CONVERSION="1"))
        _save_log(hub, "c-prefetch")
        assert done.returncode == 0, done.stderr
        assert _snapshot_names(cache, hub.main_commit) == sorted([*CONFIG_FILES, "pytorch_model.bin"])
        assert (repo_folder(HUB_MODEL_ID, cache) / "refs" / "main").read_text() == hub.main_commit
        downloads = sorted(p.rsplit("/", 1)[-1] for m, p, s in hub.requests("/resolve/") if m == "GET" or s == 302)
        assert "model.safetensors" not in " ".join(downloads)  # never asks for a file main does not have
        assert hub.requests(f"/api/models/{HUB_MODEL_ID}/revision/main")  # pinned: asked main's commit once
        at_main = [p for _, p, _ in hub.requests("/resolve/main/")]
        assert at_main == [f"/{HUB_MODEL_ID}/resolve/main/config.json"]  # only resolve's reachability check
        assert all(
            hub.main_commit in p for _, p, _ in hub.requests("/resolve/") if p not in at_main
        )  # then that commit
        doctor = _jbert("doctor", "--json", env=_env(cache, hub, HF_HUB_OFFLINE="1"))
    report = json.loads(doctor.stdout)
    assert doctor.returncode == 0 and report["ok"], doctor.stdout
    assert report["model"]["label"] == HUB_MODEL_ID and report["model"]["kind"] == "hub"
    cached = next(c for c in report["checks"] if c["name"] == "Hub キャッシュ")
    assert cached["status"] == "ok" and hub.main_commit[:12] in cached["detail"]


def test_d_a_main_with_safetensors_works_too(replica: dict[str, Path], tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    with _hub(replica, safetensors_on_main=True) as hub:
        done = _jbert("prefetch", env=_env(cache, hub, DISABLE_SAFETENSORS_CONVERSION="1"))
        _save_log(hub, "d-prefetch-safetensors-main")
    assert done.returncode == 0, done.stderr
    assert _snapshot_names(cache, hub.main_commit) == sorted([*CONFIG_FILES, "model.safetensors"])
    out = _result(_run([sys.executable, "-c", RESOLVE_AND_LOAD], _env(cache, None, HF_HUB_OFFLINE="1")))
    assert (out["kind"], out["label"], out["missing"]) == ("hub", HUB_MODEL_ID, [])
    # the bot's file has no copy of the tied decoder: 7 unused keys instead of 8
    assert out["unexpected"] == sorted(set(HEAD_KEYS) - {"cls.predictions.decoder.weight"})


@pytest.mark.parametrize("fault", ["404", "500", "short"])
def test_e_a_failing_download_is_a_clear_error_and_installs_nothing(
    replica: dict[str, Path], tmp_path: Path, fault: str
) -> None:
    cache = tmp_path / "hub"
    with _hub(replica, fault=fault) as hub:
        done = _jbert("prefetch", env=_env(cache, hub, DISABLE_SAFETENSORS_CONVERSION="1"))
        _save_log(hub, f"e-{fault}")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "ダウンロードに失敗しました" in done.stderr and "もう一度 `jbert prefetch`" in done.stderr
    assert "Traceback" not in done.stderr
    repo = repo_folder(HUB_MODEL_ID, cache)
    assert not (repo / "refs" / "main").exists()
    assert _snapshot_names(cache, hub.main_commit) == []
    resolved = _result(_run([sys.executable, "-c", RESOLVE_AND_LOAD], _env(cache, None, HF_HUB_OFFLINE="1")))
    assert resolved["kind"] == "standin"  # the lessons carry on with the stand-in
