"""The offline stand-in: a replica of the Hub's artifact with the real tokenizer and random weights.

The Hugging Face Hub is not always reachable (a classroom without internet, a CI job). The lessons
then load a *stand-in* through exactly the same ``from_pretrained`` calls. It copies the Hub repo
``tohoku-nlp/bert-base-japanese-whole-word-masking`` as its ``main`` revision serves it, so that
everything a learner with the real model sees is exercised offline:

* the same files: ``config.json`` (479 bytes, with ``"architectures": ["BertForMaskedLM"]`` and
  ``"tokenizer_class": "BertJapaneseTokenizer"``), ``tokenizer_config.json`` (120 bytes: MeCab then
  WordPiece, no dictionary pinned), ``vocab.txt`` (the real 32,000 entries, so tokens **and ids**
  are the real ones) and ``pytorch_model.bin`` — the sizes the reference notebook's download log shows;
* the same checkpoint keys: a *pre-training* checkpoint, ``bert.*`` plus the masked-LM head
  (``cls.predictions.*``, its decoder tied to the word embeddings) and the next-sentence head
  (``cls.seq_relationship.*``). ``BertModel.from_pretrained`` therefore prints transformers'
  ``BertModel LOAD REPORT`` listing those 8 keys as UNEXPECTED, exactly as with the real model;
  ``BertForMaskedLM`` and ``BertForPreTraining`` load from it too;
* :func:`build_conversion_safetensors` writes the ``model.safetensors`` that the Hub's conversion
  bot puts on its pull-request revision (``refs/pr/1``), which transformers fetches in the background.

Only the weights are made up: seeded, uniformly random with the BERT initialiser's standard
deviation 0.02 (``JBERT_STANDIN_SEED`` picks another seed, for the weight-independence audit).
It is materialised once per user in a cache directory (``JBERT_CACHE_DIR`` or platformdirs' user
cache dir), atomically: it is built in a temporary directory beside the target and renamed into
place, so a kernel never sees half a model. Introduced in lesson 04-03.

Example::

    >>> from jbert_helpers.standin import ensure_standin
    >>> path = ensure_standin()          # doctest: +SKIP
    >>> sorted(p.name for p in path.iterdir())  # doctest: +SKIP
    ['config.json', 'jbert_standin.json', 'pytorch_model.bin', 'tokenizer_config.json', 'vocab.txt']
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
STANDIN_VERSION = 2
#: sha256 of the packaged vocabulary (``jbert_helpers/data/vocab.txt``, see VOCAB_LICENSE.md there).
VOCAB_SHA256 = "aa7b969239a2d4a0b9a5941a44df5800367a857f9a927194a78b38d5a1005619"
#: The marker written last into a complete stand-in directory.
MARKER = "jbert_standin.json"
#: Seed of the weights: the same bytes on every machine with the pinned numpy and torch.
SEED = 20190101
#: Environment variable that picks another seed (the weight-independence audit, ``make audit``).
SEED_ENV = "JBERT_STANDIN_SEED"
#: The weights file of the Hub's ``main`` revision (a PyTorch pickle, loaded by transformers with
#: ``torch.load`` with ``weights_only=True``; jbert never unpickles it itself).
WEIGHTS_NAME = "pytorch_model.bin"
#: The weights file the conversion bot adds on its pull-request revision.
SAFE_WEIGHTS_NAME = "model.safetensors"
#: The files of the Hub's ``main`` revision that the lessons use, in the stand-in as on the Hub.
HUB_FILES = ("config.json", "tokenizer_config.json", "vocab.txt", WEIGHTS_NAME)
#: ``config.json`` of tohoku-nlp/bert-base-japanese-whole-word-masking (written with ``indent=2`` and a
#: final newline: 479 bytes, the size in the reference notebook's download log).
HUB_CONFIG: dict[str, object] = {
    "architectures": ["BertForMaskedLM"],
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
    "tokenizer_class": "BertJapaneseTokenizer",
    "type_vocab_size": 2,
    "vocab_size": 32000,
}
#: ``tokenizer_config.json`` of the Hub repo (one line, 120 bytes): MeCab, then WordPiece; no
#: dictionary pinned, so transformers' default dictionary applies unless a lesson names one.
HUB_TOKENIZER_CONFIG: dict[str, object] = {
    "do_lower_case": False,
    "word_tokenizer_type": "mecab",
    "subword_tokenizer_type": "wordpiece",
    "model_max_length": 512,
}
#: The pre-training heads' keys, which ``BertModel`` does not use (its LOAD REPORT lists them).
HEAD_KEYS = (
    "cls.predictions.bias",
    "cls.predictions.transform.dense.weight",
    "cls.predictions.transform.dense.bias",
    "cls.predictions.transform.LayerNorm.weight",
    "cls.predictions.transform.LayerNorm.bias",
    "cls.predictions.decoder.weight",
    "cls.seq_relationship.weight",
    "cls.seq_relationship.bias",
)
#: The masked-LM decoder shares its matrix with the word embeddings (weight tying).
TIED = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight"}
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


def standin_seed() -> int:
    """The seed of the stand-in's weights: ``$JBERT_STANDIN_SEED`` if set, else :data:`SEED`.

    >>> standin_seed() == SEED
    True
    """
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return SEED
    try:
        seed = int(raw)
    except ValueError:
        seed = -1
    if not 0 <= seed < 2**63:
        raise StandinError(
            f"{SEED_ENV}={raw!r} は 0 以上の整数ではありません。外すか整数にしてください (例: {SEED_ENV}=7)。\n"
            f"{SEED_ENV} must be a non-negative integer."
        )
    return seed


def standin_path(root: Path | None = None, seed: int | None = None) -> Path:
    """The directory the current stand-in version lives in (it may not exist yet).

    >>> standin_path(Path("/c")).as_posix(), standin_path(Path("/c"), seed=7).as_posix()
    ('/c/standin-v2', '/c/standin-v2-seed7')
    """
    seed = standin_seed() if seed is None else seed
    suffix = "" if seed == SEED else f"-seed{seed}"
    return (root if root is not None else cache_root()) / f"standin-v{STANDIN_VERSION}{suffix}"


def packaged_vocab() -> Path:
    """Path of the real model's vocabulary shipped inside the package."""
    return Path(str(resources.files("jbert_helpers") / "data" / "vocab.txt"))


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MB blocks (the full check of a copied model)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _int(cfg: dict[str, object], key: str) -> int:
    value = cfg[key]
    assert isinstance(value, int), key
    return value


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
    cfg = dict(config or HUB_CONFIG)
    h, inter = _int(cfg, "hidden_size"), _int(cfg, "intermediate_size")
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (_int(cfg, "vocab_size"), h),
        "embeddings.position_embeddings.weight": (_int(cfg, "max_position_embeddings"), h),
        "embeddings.token_type_embeddings.weight": (_int(cfg, "type_vocab_size"), h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }

    def linear(name: str, n_in: int, n_out: int) -> None:
        shapes[f"{name}.weight"] = (n_out, n_in)
        shapes[f"{name}.bias"] = (n_out,)

    for i in range(_int(cfg, "num_hidden_layers")):
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


def checkpoint_shapes(config: dict[str, object] | None = None) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the pre-training checkpoint (``BertForPreTraining``'s ``state_dict`` order).

    ``bert.`` + every :func:`weight_shapes` key, then the 8 :data:`HEAD_KEYS`.

    >>> shapes = checkpoint_shapes()
    >>> len(shapes) - len(weight_shapes()), shapes["cls.predictions.decoder.weight"]
    (8, (32000, 768))
    """
    cfg = dict(config or HUB_CONFIG)
    h, vocab = _int(cfg, "hidden_size"), _int(cfg, "vocab_size")
    shapes = {f"bert.{k}": v for k, v in weight_shapes(cfg).items()}
    shapes.update(
        {
            "cls.predictions.bias": (vocab,),
            "cls.predictions.transform.dense.weight": (h, h),
            "cls.predictions.transform.dense.bias": (h,),
            "cls.predictions.transform.LayerNorm.weight": (h,),
            "cls.predictions.transform.LayerNorm.bias": (h,),
            "cls.predictions.decoder.weight": (vocab, h),
            "cls.seq_relationship.weight": (2, h),
            "cls.seq_relationship.bias": (2,),
        }
    )
    return shapes


def _uniform01(total: int, seed: int, parts: int | None = None) -> np.ndarray:
    """``Generator(PCG64(seed)).random(total, dtype=float32)``, filled by several threads.

    Each thread draws its own slice from a copy of the generator advanced to the slice's start
    (a float32 draw takes half of one 64-bit PCG64 output, so slices start at even indices):
    the bytes are exactly those of the single-threaded call, whatever the number of threads.
    """
    parts = max(1, min(4, parts if parts is not None else (os.cpu_count() or 1)))
    out = np.empty(total, dtype=np.float32)
    bounds = [(total * i // parts) // 2 * 2 for i in range(parts)] + [total]

    def fill(i: int) -> None:
        bit_generator = np.random.PCG64(seed)
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


def checkpoint_arrays(seed: int = SEED) -> dict[str, np.ndarray]:
    """The stand-in's pre-training checkpoint as NumPy arrays (tied keys share one array).

    Matrices are uniform with standard deviation ``initializer_range`` (0.02), drawn in key order
    from one seeded stream (the ``bert.*`` matrices first, so their values do not depend on the
    heads); LayerNorm weights 1, biases 0, and the ``[PAD]`` row (``padding_idx`` 0) of the word
    embeddings 0.
    """
    shapes = {k: v for k, v in checkpoint_shapes().items() if k not in TIED}
    names = [k for k, s in shapes.items() if len(s) == 2]
    flat = _uniform01(sum(int(np.prod(shapes[k])) for k in names), seed)
    std = HUB_CONFIG["initializer_range"]
    assert isinstance(std, float)
    half_width = np.float32(std * np.sqrt(3.0))
    flat -= np.float32(0.5)  # U(-a, a) has standard deviation a / sqrt(3)
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
    out["bert.embeddings.word_embeddings.weight"][0] = 0.0
    for tied, source in TIED.items():
        out[tied] = out[source]
    return {k: out[k] for k in checkpoint_shapes()}  # BertForPreTraining's key order


def _write_pickle_checkpoint(arrays: dict[str, np.ndarray], path: Path) -> None:
    """``torch.save`` of the state dict, tied tensors stored once (as ``save_pretrained`` of 2019 did)."""
    import torch

    tensors: dict[int, torch.Tensor] = {}
    state = {k: tensors.setdefault(id(a), torch.from_numpy(a)) for k, a in arrays.items()}
    try:
        torch.save(state, str(path))
    except RuntimeError as e:  # a full disk or a size limit surfaces as the zip writer's RuntimeError
        raise OSError(f"{path.name} を書けません: {e}") from e


def build_conversion_safetensors(target: Path, seed: int | None = None) -> Path:
    """Write the ``model.safetensors`` the Hub's conversion bot (SFconvertbot) adds on ``refs/pr/1``.

    The bot loads ``pytorch_model.bin`` and saves it with safetensors, which refuses shared
    tensors: of each tied group it keeps one name (the word embeddings) and records the dropped
    one in the file's metadata. So this file has 7 of the 8 head keys. Deterministic bytes.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    arrays = checkpoint_arrays(standin_seed() if seed is None else seed)
    for tied in TIED:
        del arrays[tied]
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        save_file(arrays, str(target), metadata={"format": "pt", **TIED})
    except SafetensorError as e:
        raise OSError(f"{target.name} を書けません: {e}") from e
    _sort_safetensors_metadata(target)
    return target


def _sort_safetensors_metadata(path: Path) -> None:
    """Rewrite the header's ``__metadata__`` in sorted key order, in place and at the same length.

    safetensors writes metadata in hash-map order, which changes from call to call; sorted, the
    file has the same bytes on every build.
    """
    with path.open("r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
        text = json.dumps(header, separators=(",", ":")).encode()
        assert len(text) <= n, "the re-ordered header must fit where the old one was"
        f.seek(8)
        f.write(text.ljust(n, b" "))


def build_standin(target: Path, seed: int | None = None) -> Path:
    """Write a complete stand-in (the replica of the Hub's ``main``) into ``target`` and return it.

    Deterministic: the same bytes on every machine with the pinned numpy and torch. Use
    :func:`ensure_standin` in lessons; this is the building block it calls.
    """
    seed = standin_seed() if seed is None else seed
    vocab = packaged_vocab()
    digest = sha256_file(vocab)
    if digest != VOCAB_SHA256:
        raise StandinError(
            f"同梱の語彙ファイル {vocab} が壊れています (sha256 {digest[:12]}…, 期待値 "
            f"{VOCAB_SHA256[:12]}…)。パッケージを入れ直してください: pip install -e . --force-reinstall\n"
            "The packaged vocabulary is corrupt; reinstall the package."
        )
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(vocab, target / "vocab.txt")
    (target / "tokenizer_config.json").write_text(json.dumps(HUB_TOKENIZER_CONFIG))
    (target / "config.json").write_text(json.dumps(HUB_CONFIG, indent=2) + "\n")
    weights = target / WEIGHTS_NAME
    _write_pickle_checkpoint(checkpoint_arrays(seed), weights)
    files = {p.name: p.stat().st_size for p in sorted(target.iterdir())}
    marker = {
        "version": STANDIN_VERSION,
        "seed": seed,
        "vocab_sha256": VOCAB_SHA256,
        "files": files,
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
    try:
        if weights_fingerprint(path / WEIGHTS_NAME) != marker.get("weights_fingerprint"):
            return f"{WEIGHTS_NAME} の中身が作成時と違います (壊れています)"
    except OSError:
        return f"{WEIGHTS_NAME} が読めません"
    return None


def weights_fingerprint(path: Path, samples: int = 64, chunk: int = 1 << 16) -> str:
    """sha256 of a file's size and of ``samples`` chunks spread over it, first and last included.

    Reads 4 MB of a 445 MB file (milliseconds), so it runs on every warm start: a garbled start
    (the zip's first record, a safetensors header), or any overwritten stretch longer than the gap
    between samples (7 MB for the stand-in), is caught and the copy rebuilt instead of loading a
    wrong model. Damage smaller than that may fall between the samples; ``sha256sum`` is the full check.
    """
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
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


def ensure_standin(root: Path | None = None, *, rebuild: bool = False, seed: int | None = None) -> Path:
    """Return the directory of a complete stand-in, building it first if needed.

    Safe when several kernels call it at once: each builds in its own temporary directory and
    renames it into place; whoever loses the race keeps the winner's copy. A cached copy whose
    marker, version or file sizes do not match is rebuilt. Introduced in lesson 04-03.

    Raises :class:`~jbert_helpers.errors.StandinError` when the cache directory is not writable,
    with the fix (``JBERT_CACHE_DIR``).
    """
    root = root if root is not None else cache_root()
    seed = standin_seed() if seed is None else seed
    final = standin_path(root, seed)
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
        build_standin(tmp, seed)
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
