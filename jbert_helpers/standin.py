"""The offline stand-in: the real tokenizer and vocabulary, the real architecture, random weights.

The Hugging Face Hub is not always reachable (a classroom without internet, a CI job). The lessons
then load a *stand-in* through exactly the same ``from_pretrained`` calls:

* the tokenizer is a real ``BertJapaneseTokenizer`` (MeCab words, then WordPiece) over the real
  model's 32,000-entry vocabulary, so tokens **and ids** are the real ones;
* the model is a ``BertModel`` with the real configuration (12 layers, hidden 768, 12 heads, …),
  so shapes, ``print(model.config)`` and the parameter count are the real ones; only the weights
  are made up (seeded, uniformly random with the BERT initialiser's standard deviation 0.02).

It is materialised once per user in a cache directory (``JBERT_CACHE_DIR`` or platformdirs'
user cache dir), atomically: it is built in a temporary directory beside the target and renamed
into place, so a kernel never sees half a model. Introduced in lesson 04-03.

Example::

    >>> from jbert_helpers.standin import ensure_standin
    >>> path = ensure_standin()          # doctest: +SKIP
    >>> sorted(p.name for p in path.iterdir())  # doctest: +SKIP
    ['config.json', 'jbert_standin.json', 'model.safetensors', 'tokenizer_config.json', 'vocab.txt']
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import StandinError

#: Bump when the files the stand-in consists of change; a cached copy of another version is rebuilt.
STANDIN_VERSION = 1
#: sha256 of the packaged vocabulary (``jbert_helpers/data/vocab.txt``, see VOCAB_LICENSE.md there).
VOCAB_SHA256 = "aa7b969239a2d4a0b9a5941a44df5800367a857f9a927194a78b38d5a1005619"
#: The marker written last into a complete stand-in directory.
MARKER = "jbert_standin.json"
#: Seed of the weights: the same bytes on every machine with the pinned numpy.
SEED = 20190101
#: The real model's configuration (``config.json`` of tohoku-nlp/bert-base-japanese-whole-word-masking).
REAL_CONFIG: dict[str, object] = {
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 0,
    "type_vocab_size": 2,
    "vocab_size": 32000,
}
#: The real model's tokenizer settings: MeCab, then WordPiece; no dictionary pinned (as on the hub).
TOKENIZER_CONFIG: dict[str, object] = {
    "do_lower_case": False,
    "word_tokenizer_type": "mecab",
    "subword_tokenizer_type": "wordpiece",
    "model_max_length": 512,
    "tokenizer_class": "BertJapaneseTokenizer",
}
_STALE_BUILD_SECONDS = 600


def cache_root() -> Path:
    """Where stand-ins are cached: ``$JBERT_CACHE_DIR`` if set, else platformdirs' user cache dir.

    >>> import os; os.environ["JBERT_CACHE_DIR"] = "/tmp/jbert-doc"
    >>> str(cache_root())
    '/tmp/jbert-doc'
    >>> del os.environ["JBERT_CACHE_DIR"]
    """
    override = os.environ.get("JBERT_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("jbert", appauthor=False))


def standin_path(root: Path | None = None) -> Path:
    """The directory the current stand-in version lives in (it may not exist yet)."""
    return (root if root is not None else cache_root()) / f"standin-v{STANDIN_VERSION}"


def packaged_vocab() -> Path:
    """Path of the real model's vocabulary shipped inside the package."""
    return Path(str(resources.files("jbert_helpers") / "data" / "vocab.txt"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weight_shapes(config: dict[str, object] | None = None) -> dict[str, tuple[int, ...]]:
    """Names and shapes of every ``BertModel`` parameter (with pooler), in ``state_dict`` order.

    Computed from the configuration by formula, so building the stand-in needs neither
    ``BertModel`` nor its import (about 3 s); ``tests/test_faults.py`` checks that the result
    equals the ``state_dict`` of a ``BertModel`` built on the meta device.

    >>> shapes = weight_shapes()
    >>> shapes["embeddings.word_embeddings.weight"]
    (32000, 768)
    >>> sum(int(np.prod(s)) for s in shapes.values())
    110617344
    """
    cfg = dict(config or REAL_CONFIG)
    h = int(cfg["hidden_size"])  # type: ignore[arg-type]
    inter = int(cfg["intermediate_size"])  # type: ignore[arg-type]
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (int(cfg["vocab_size"]), h),  # type: ignore[arg-type]
        "embeddings.position_embeddings.weight": (int(cfg["max_position_embeddings"]), h),  # type: ignore[arg-type]
        "embeddings.token_type_embeddings.weight": (int(cfg["type_vocab_size"]), h),  # type: ignore[arg-type]
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }

    def linear(name: str, n_in: int, n_out: int) -> None:
        shapes[f"{name}.weight"] = (n_out, n_in)
        shapes[f"{name}.bias"] = (n_out,)

    for i in range(int(cfg["num_hidden_layers"])):  # type: ignore[arg-type]
        layer = f"encoder.layer.{i}"
        for part in ("query", "key", "value"):
            linear(f"{layer}.attention.self.{part}", h, h)
        linear(f"{layer}.attention.output.dense", h, h)
        shapes[f"{layer}.attention.output.LayerNorm.weight"] = (h,)
        shapes[f"{layer}.attention.output.LayerNorm.bias"] = (h,)
        linear(f"{layer}.intermediate.dense", h, inter)
        linear(f"{layer}.output.dense", inter, h)
        shapes[f"{layer}.output.LayerNorm.weight"] = (h,)
        shapes[f"{layer}.output.LayerNorm.bias"] = (h,)
    linear("pooler.dense", h, h)
    return shapes


def _uniform01(total: int, parts: int | None = None) -> np.ndarray:
    """``Generator(PCG64(SEED)).random(total, dtype=float32)``, filled by several threads.

    Each thread draws its own slice from a copy of the generator advanced to the slice's start
    (a float32 draw takes half of one 64-bit PCG64 output, so slices start at even indices):
    the bytes are exactly those of the single-threaded call, whatever the number of threads.
    """
    parts = max(1, min(4, parts if parts is not None else (os.cpu_count() or 1)))
    out = np.empty(total, dtype=np.float32)
    bounds = [(total * i // parts) // 2 * 2 for i in range(parts)] + [total]

    def fill(i: int) -> None:
        bit_generator = np.random.PCG64(SEED)
        bit_generator.advance(bounds[i] // 2)
        np.random.Generator(bit_generator).random(
            bounds[i + 1] - bounds[i], dtype=np.float32, out=out[bounds[i] : bounds[i + 1]]
        )

    threads = [threading.Thread(target=fill, args=(i,)) for i in range(1, parts)]
    for t in threads:
        t.start()
    fill(0)
    for t in threads:
        t.join()
    return out


def _weights(shapes: dict[str, tuple[int, ...]], std: float) -> dict[str, np.ndarray]:
    """Seeded weights: matrices uniform with standard deviation ``std``, LayerNorm 1/0, biases 0."""
    names = [k for k, s in shapes.items() if len(s) == 2]
    total = sum(int(np.prod(shapes[k])) for k in names)
    flat = _uniform01(total)
    half_width = np.float32(std * np.sqrt(3.0))  # U(-a, a) has standard deviation a / sqrt(3)
    flat -= np.float32(0.5)
    flat *= np.float32(2.0) * half_width
    out: dict[str, np.ndarray] = {}
    offset = 0
    for name, shape in shapes.items():
        if len(shape) == 2:
            n = int(np.prod(shape))
            out[name] = flat[offset : offset + n].reshape(shape)
            offset += n
        elif "LayerNorm.weight" in name:
            out[name] = np.ones(shape, dtype=np.float32)
        else:
            out[name] = np.zeros(shape, dtype=np.float32)
    out["embeddings.word_embeddings.weight"][0] = 0.0  # [PAD] (padding_idx 0) embeds to zero
    return out


def build_standin(target: Path) -> Path:
    """Write a complete stand-in into the empty directory ``target`` and return it.

    Deterministic: the same bytes on every machine with the pinned numpy/safetensors. Use
    :func:`ensure_standin` in lessons; this is the building block it calls.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    vocab = packaged_vocab()
    digest = _sha256(vocab)
    if digest != VOCAB_SHA256:
        raise StandinError(
            f"同梱の語彙ファイル {vocab} が壊れています (sha256 {digest[:12]}…, 期待値 "
            f"{VOCAB_SHA256[:12]}…)。パッケージを入れ直してください: pip install -e . --force-reinstall\n"
            "The packaged vocabulary is corrupt; reinstall the package."
        )
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(vocab, target / "vocab.txt")
    (target / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2) + "\n")
    (target / "config.json").write_text(json.dumps(REAL_CONFIG, indent=2, sort_keys=True) + "\n")
    tensors = _weights(weight_shapes(), std=float(REAL_CONFIG["initializer_range"]))  # type: ignore[arg-type]
    weights = target / "model.safetensors"
    try:
        save_file(tensors, str(weights), metadata={"format": "pt"})
    except SafetensorError as e:  # a full disk or a size limit surfaces here, not as an OSError
        raise OSError(f"model.safetensors を書けません: {e}") from e
    files = {p.name: p.stat().st_size for p in sorted(target.iterdir())}
    marker = {
        "version": STANDIN_VERSION, "seed": SEED, "vocab_sha256": VOCAB_SHA256, "files": files,
        "weights_fingerprint": weights_fingerprint(weights),
    }
    (target / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
    return target


def standin_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete stand-in of the current version, or ``None`` if it is.

    A cheap check (marker, version, file sizes, :func:`weights_fingerprint`) that runs on every
    warm start.
    """
    marker_file = path / MARKER
    if not marker_file.is_file():
        return "マーカーがありません (未作成か作成途中)"
    try:
        marker = json.loads(marker_file.read_text())
    except (OSError, ValueError):
        return "マーカーが読めません"
    if marker.get("version") != STANDIN_VERSION:
        return f"版が違います (v{marker.get('version')} ≠ v{STANDIN_VERSION})"
    for name, size in dict(marker.get("files", {})).items():
        f = path / name
        if not f.is_file() or f.stat().st_size != size:
            return f"{name} が欠けているか大きさが違います"
    weights = path / "model.safetensors"
    try:
        expected = marker.get("weights_fingerprint")
        if expected is not None and weights_fingerprint(weights) != expected:
            return "model.safetensors の中身が作成時と違います (壊れています)"
        if expected is None:  # a marker written before fingerprints: at least the header must parse
            _safetensors_header(weights)
    except (OSError, ValueError):
        return "model.safetensors のヘッダが壊れています"
    return None


def _safetensors_header(path: Path) -> bytes:
    """The 8-byte length and the JSON header of a safetensors file; ValueError if it is not one."""
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError("too short")
        n = int.from_bytes(head, "little")
        if not 2 <= n <= 1 << 24 or n + 8 > path.stat().st_size:
            raise ValueError(f"header length {n}")
        header = f.read(n)
    json.loads(header)  # raises ValueError on garbage
    return head + header


def weights_fingerprint(path: Path, samples: int = 64, chunk: int = 1 << 16) -> str:
    """sha256 of a safetensors file's header and of ``samples`` chunks spread over its data.

    Reads 4 MB of a 442 MB file (milliseconds), so it runs on every warm start: a garbled header,
    or any overwritten stretch longer than the gap between samples (7 MB for the stand-in), is
    caught and the copy rebuilt instead of loading a wrong model. Damage smaller than that may
    fall between the samples; ``sha256sum model.safetensors`` is the full check.
    """
    h = hashlib.sha256(_safetensors_header(path))
    size = path.stat().st_size
    with path.open("rb") as f:
        for i in range(samples):
            f.seek(max(0, (size - chunk) * i // max(1, samples - 1)))
            h.update(f.read(chunk))
    return h.hexdigest()


def is_standin(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a directory holding a stand-in (it carries the marker file).

    >>> is_standin("tohoku-nlp/bert-base-japanese-whole-word-masking")
    False
    """
    return (Path(path) / MARKER).is_file()


def _remove_stale_builds(root: Path) -> None:
    now = time.time()
    for p in root.glob(".standin-build-*"):
        try:
            if now - p.stat().st_mtime > _STALE_BUILD_SECONDS:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def ensure_standin(root: Path | None = None, *, rebuild: bool = False) -> Path:
    """Return the directory of a complete stand-in, building it first if needed.

    Safe when several kernels call it at once: each builds in its own temporary directory and
    renames it into place; whoever loses the race keeps the winner's copy. A cached copy whose
    marker, version or file sizes do not match is rebuilt. Introduced in lesson 04-03.

    Raises :class:`~jbert_helpers.errors.StandinError` when the cache directory is not writable,
    with the fix (``JBERT_CACHE_DIR``).
    """
    root = root if root is not None else cache_root()
    final = standin_path(root)
    if not rebuild and standin_problem(final) is None:
        return final
    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_builds(root)
        tmp = Path(tempfile.mkdtemp(prefix=".standin-build-", dir=root))
    except OSError as e:
        raise StandinError(
            f"代役モデルのキャッシュ {root} に書き込めません ({e.strerror or e})。"
            "書き込める場所を環境変数で指定してください: export JBERT_CACHE_DIR=$HOME/.cache/jbert\n"
            f"Cannot write the stand-in cache at {root}; set JBERT_CACHE_DIR to a writable directory."
        ) from e
    try:
        build_standin(tmp)
        if not rebuild and standin_problem(final) is None:
            return final  # another process won the race meanwhile: keep its copy (a kernel may be loading it)
        if final.exists():
            # Move the invalid copy aside first: a rename onto a non-empty directory fails.
            trash = Path(tempfile.mkdtemp(prefix=".standin-build-old-", dir=root))
            try:
                os.rename(final, trash / "old")
            except OSError:
                pass  # another process replaced it meanwhile; checked below
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if standin_problem(final) is not None:  # lost a race to a broken copy: should not happen
                raise
    except OSError as e:
        raise StandinError(
            f"代役モデルを {root} に作れませんでした ({e})。ディスクの空き (約 450 MB 必要) と "
            "書き込み権限を確かめるか、JBERT_CACHE_DIR で別の場所を指定してください。"
        ) from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
