"""Which model the lessons load (resolve_model_name / choose_model).

huggingface_hub reads HF_HUB_CACHE and HF_HUB_OFFLINE when it is imported, as a kernel does, so
each scenario runs in a fresh interpreter with its own environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from jbert_helpers.hubcache import HUB_MODEL_ID, WEIGHTS_LABEL
from jbert_helpers.standin import HUB_FILES, ensure_standin

PROBE = """
import json, time
from jbert_helpers.errors import ModelResolutionError
from jbert_helpers.models import choose_model
t = time.monotonic()  # the decision only, not the imports
try:
    c = choose_model()
    out = {"name": c.name, "kind": c.kind, "label": c.label, "reason": c.reason, "banner": c.banner()}
except ModelResolutionError as e:
    out = {"error": str(e)}
out["seconds"] = time.monotonic() - t
print(json.dumps(out))
"""


def _choose(tmp_path: Path, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "JBERT_MODEL"))}
    base.update({"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"})
    base.update(env)
    base = {k: v for k, v in base.items() if v != ""}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=base, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _real_files(*names: str) -> dict[str, Path]:
    """The real model's files by name, taken from the stand-in (a replica of the Hub's main)."""
    return {n: ensure_standin() / n for n in (names or HUB_FILES)}


def test_standin_when_nothing_is_cached_and_offline(tmp_path: Path) -> None:
    out = _choose(tmp_path)
    assert out["kind"] == "standin" and Path(out["name"]) == ensure_standin()
    assert "HF_HUB_OFFLINE" in out["reason"]
    assert "代役" in out["banner"] and "jbert prefetch" in out["banner"]


def test_jbert_model_standin_wins(tmp_path: Path, fake_hub_cache: Callable[..., Path]) -> None:
    fake_hub_cache(tmp_path / "hub", _real_files())
    out = _choose(tmp_path, JBERT_MODEL="standin")
    assert out["kind"] == "standin" and out["label"] == "standin"
    assert "JBERT_MODEL=standin" in out["reason"]


def test_complete_hub_cache_gives_the_hub_id_offline(tmp_path: Path, fake_hub_cache: Callable[..., Path]) -> None:
    fake_hub_cache(tmp_path / "hub", _real_files())
    out = _choose(tmp_path)
    assert (out["name"], out["kind"], out["label"]) == (HUB_MODEL_ID, "hub", HUB_MODEL_ID)


def test_cached_model_with_unreachable_hub_loads_from_the_snapshot(
    tmp_path: Path, fake_hub_cache: Callable[..., Path]
) -> None:
    snapshot = fake_hub_cache(tmp_path / "hub", _real_files())
    out = _choose(tmp_path, HF_HUB_OFFLINE="", HF_ENDPOINT="http://127.0.0.1:9")  # nothing listens on port 9
    assert Path(out["name"]) == snapshot and out["label"] == HUB_MODEL_ID


def test_half_downloaded_model_is_not_used(tmp_path: Path, fake_hub_cache: Callable[..., Path]) -> None:
    fake_hub_cache(tmp_path / "hub", _real_files("config.json", "vocab.txt"))
    out = _choose(tmp_path)
    assert out["kind"] == "standin"


def test_jbert_model_directory(tmp_path: Path) -> None:
    folder = tmp_path / "my-bert"  # a model folder of the real files' names (not a stand-in: no marker)
    folder.mkdir()
    for name in HUB_FILES:
        os.symlink(ensure_standin() / name, folder / name)
    out = _choose(tmp_path, JBERT_MODEL=str(folder))
    assert (out["name"], out["kind"], out["label"]) == (str(folder), "local", str(folder))
    (folder / "pytorch_model.bin").unlink()
    out = _choose(tmp_path, JBERT_MODEL=str(folder))
    assert WEIGHTS_LABEL in out["error"] and "jbert prefetch" in out["error"]


@pytest.mark.parametrize("value", ["not a model", "../nowhere/at/all/x"])
def test_jbert_model_nonsense_is_a_clear_error(tmp_path: Path, value: str) -> None:
    out = _choose(tmp_path, JBERT_MODEL=value)
    assert "JBERT_MODEL" in out["error"] and "standin" in out["error"]


def test_jbert_model_hub_id_not_cached_offline(tmp_path: Path) -> None:
    out = _choose(tmp_path, JBERT_MODEL="someone/some-bert")
    assert "someone/some-bert" in out["error"] and "JBERT_MODEL=standin" in out["error"]


@pytest.mark.slow  # a fresh interpreter or a model rebuilt: `make ci`
def test_loading_what_resolve_returns_with_the_books_calls(tmp_path: Path, fake_hub_cache: Callable[..., Path]) -> None:
    """Whatever resolve returns loads with BertJapaneseTokenizer / BertModel.from_pretrained, offline."""
    snapshot = fake_hub_cache(tmp_path / "hub", _real_files())
    code = (
        "from transformers import BertJapaneseTokenizer, BertModel\n"
        "from jbert_helpers import resolve_model_name\n"
        "name = resolve_model_name(quiet=True)\n"
        "tok = BertJapaneseTokenizer.from_pretrained(name, mecab_kwargs={'mecab_dic': 'ipadic'})\n"
        "model = BertModel.from_pretrained(name)\n"
        "print(name, tok.encode('明日の天気は晴れだ。'), model.config.num_hidden_layers)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "JBERT_MODEL"))}
    env.update(HF_HUB_CACHE=str(tmp_path / "hub"), HF_ENDPOINT="http://127.0.0.1:9")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == str(snapshot)
    assert "[2, 11475, 5, 11385, 9, 16577, 75, 8, 3]" in done.stdout
