"""`jbert prefetch`: importing a copied model into the hub cache, and failing cleanly.

The source is a folder made from the stand-in's files (a replica of the Hub's ``main``: the real
file names, ``pytorch_model.bin`` with the real checkpoint keys, the real tokenizer), so the import,
the load check, and resolve_model_name choosing it afterwards all run offline against a temporary
hub cache. Downloads from a (fake) Hub are in test_fake_hub.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from jbert_helpers.hubcache import HUB_MODEL_ID, repo_folder
from jbert_helpers.standin import HUB_FILES, ensure_standin
from jbert_helpers.tools.cli import main
from jbert_helpers.tools.prefetch import PrefetchError, content_revision, import_model, prefetch_hub

REQUIRED_FILES = HUB_FILES  # config.json, tokenizer_config.json, vocab.txt, pytorch_model.bin


@pytest.fixture(scope="module")
def model_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding exactly the required files, taken from the stand-in (no marker file)."""
    standin = ensure_standin()
    src = tmp_path_factory.mktemp("copied") / "bert-wwm"
    src.mkdir()
    for name in REQUIRED_FILES:
        os.link(standin / name, src / name) if _same_device(standin, src) else shutil.copyfile(
            standin / name, src / name
        )
    return src


def _same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def _cache_entries(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


@pytest.mark.slow  # a fresh interpreter or a model rebuilt: `make ci`
def test_import_folder_then_resolve_chooses_it(model_source: Path, tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    result = import_model(model_source, cache_dir=cache)
    repo = repo_folder(HUB_MODEL_ID, cache)
    assert result.snapshot == repo / "snapshots" / result.revision
    assert (repo / "refs" / "main").read_text() == result.revision
    assert re.fullmatch(r"[0-9a-f]{40}", result.revision)  # unknown commit: a content hash (see below)
    for name in REQUIRED_FILES:
        link = result.snapshot / name
        assert link.is_symlink() and os.readlink(link).startswith("../../blobs/")
        assert link.read_bytes()[:64] == (model_source / name).read_bytes()[:64]
    assert result.snapshot.stat().st_mode & 0o005 == 0o005  # readable by others (a shared cache)
    assert _cache_entries(cache) == [repo.name]  # no temporary folder left behind
    assert not any(p.name.startswith(".jbert") for p in (repo / "snapshots").iterdir())

    # A fresh interpreter with this cache and no network: resolve must choose the imported model
    # and transformers must load it by its hub id.
    code = (
        "import json\n"
        "from jbert_helpers.models import choose_model\n"
        "from transformers import BertJapaneseTokenizer\n"
        "c = choose_model()\n"
        "t = BertJapaneseTokenizer.from_pretrained(c.name, mecab_kwargs={'mecab_dic': 'ipadic'})\n"
        "print(json.dumps({'kind': c.kind, 'label': c.label, 'name': c.name, 'ids': t.encode('明日の天気は晴れだ。')}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "JBERT_MODEL", "PYTEST_"))}
    env.update(HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    chosen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert chosen["kind"] == "hub" and chosen["label"] == HUB_MODEL_ID
    assert chosen["ids"] == [2, 11475, 5, 11385, 9, 16577, 75, 8, 3]  # the seed's ids (see test_references)


@pytest.mark.slow  # a fresh interpreter or a model rebuilt: `make ci`
def test_import_a_tar_archive_of_a_copied_snapshot(model_source: Path, tmp_path: Path) -> None:
    commit = "a" * 40
    archive = tmp_path / "bert.tar"
    with tarfile.open(archive, "w") as tf:
        for name in REQUIRED_FILES:
            tf.add(model_source / name, arcname=f"models--x--y/snapshots/{commit}/{name}")
    cache = tmp_path / "hub"
    result = import_model(archive, cache_dir=cache)
    assert result.revision == commit  # the source's own revision is kept when it is known
    assert (repo_folder(HUB_MODEL_ID, cache) / "refs" / "main").read_text() == commit
    assert _cache_entries(cache) == [repo_folder(HUB_MODEL_ID, cache).name]


def test_missing_file_is_named_and_nothing_is_written(model_source: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in REQUIRED_FILES[:-1]:  # everything but the weights
        shutil.copyfile(model_source / name, broken / name)
    cache = tmp_path / "hub"
    with pytest.raises(PrefetchError, match="model.safetensors または pytorch_model.bin") as info:
        import_model(broken, cache_dir=cache)
    assert "コピーし直して" in str(info.value)
    assert _cache_entries(cache) == []  # no partial cache entry, no temporary folder


@pytest.mark.slow  # a fresh interpreter or a model rebuilt: `make ci`
def test_truncated_weights_fail_the_load_check_and_nothing_is_written(model_source: Path, tmp_path: Path) -> None:
    broken = tmp_path / "truncated"
    broken.mkdir()
    for name in REQUIRED_FILES:
        shutil.copyfile(model_source / name, broken / name)
    with (broken / "pytorch_model.bin").open("r+b") as f:
        f.truncate(1 << 20)  # an interrupted copy
    cache = tmp_path / "hub"
    with pytest.raises(PrefetchError, match="読み込めません"):
        import_model(broken, cache_dir=cache)
    assert _cache_entries(cache) == []


def test_broken_zip_via_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    archive = tmp_path / "bert.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("bert/config.json", "{}")
    cache = tmp_path / "hub"
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    assert main(["prefetch", "--from", str(archive)]) == 2
    err = capsys.readouterr().err
    assert "tokenizer_config.json, vocab.txt, model.safetensors または pytorch_model.bin" in err
    assert _cache_entries(cache) == []


def test_prefetch_from_hub_fails_fast_when_the_hub_never_answers(tmp_path: Path, monkeypatch) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)  # the kernel completes the handshake; nobody ever answers
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        with pytest.raises(PrefetchError, match="--from"):
            prefetch_hub(cache_dir=tmp_path / "hub")
    finally:
        server.close()
    assert _cache_entries(tmp_path / "hub") == []


def test_prefetch_refuses_to_download_when_offline(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PrefetchError, match="HF_HUB_OFFLINE=1"):
        prefetch_hub(cache_dir=tmp_path / "hub")


def test_not_a_folder_or_archive(tmp_path: Path) -> None:
    f = tmp_path / "model.txt"
    f.write_text("x")
    with pytest.raises(PrefetchError, match="アーカイブ"):
        import_model(f, cache_dir=tmp_path / "hub")
    with pytest.raises(PrefetchError, match="ありません"):
        import_model(tmp_path / "nowhere", cache_dir=tmp_path / "hub")


def test_the_standin_is_not_imported_as_the_real_model(tmp_path: Path) -> None:
    with pytest.raises(PrefetchError, match="代役"):
        import_model(ensure_standin(), cache_dir=tmp_path / "hub")
    assert _cache_entries(tmp_path / "hub") == []


def test_content_revision_is_a_deterministic_hash_of_the_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        for i, name in enumerate(REQUIRED_FILES):
            (d / name).write_bytes(f"{name}-{i}".encode())
    assert content_revision(a) == content_revision(b)
    assert re.fullmatch(r"[0-9a-f]{40}", content_revision(a))
    (b / "vocab.txt").write_bytes(b"changed")
    assert content_revision(a) != content_revision(b)
