"""The Hugging Face hub cache: where it is, where a repo lives in it, and whether a model is complete.

No network: everything here reads the local cache (huggingface_hub's cache API and its documented
layout, https://huggingface.co/docs/hub/local-cache). Used by :func:`jbert_helpers.resolve_model_name`
(lessons) and by ``jbert doctor`` / ``jbert prefetch`` (tools).
"""

from __future__ import annotations

import os
from pathlib import Path

#: The model the book uses (formerly ``cl-tohoku/bert-base-japanese-whole-word-masking``).
HUB_MODEL_ID = "tohoku-nlp/bert-base-japanese-whole-word-masking"
#: Files the tokenizer and the model need besides the weights.
CONFIG_FILES = ("config.json", "tokenizer_config.json", "vocab.txt")
#: Weights, in the order transformers prefers them. The Hub's ``main`` serves only ``pytorch_model.bin``
#: (a PyTorch pickle, which transformers loads with ``torch.load`` with ``weights_only=True``); safetensors
#: where a copy has them. jbert itself never unpickles anything and never passes ``trust_remote_code``.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: How a missing weights file is named in messages.
WEIGHTS_LABEL = " または ".join(WEIGHT_FILES)


def hub_endpoint() -> str:
    """The Hub's address in effect: ``HF_ENDPOINT`` or huggingface_hub's default (read as it reads it)."""
    from huggingface_hub import constants

    return str(constants.ENDPOINT).rstrip("/")


def hub_cache_dir() -> Path:
    """The hub cache in effect (``HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def repo_folder(repo_id: str, cache_dir: Path | None = None) -> Path:
    """The cache folder of a model repository (huggingface_hub's own name for it).

    >>> repo_folder("tohoku-nlp/bert-base-japanese-whole-word-masking", Path("/c")).as_posix()
    '/c/models--tohoku-nlp--bert-base-japanese-whole-word-masking'
    """
    from huggingface_hub.file_download import repo_folder_name

    base = cache_dir if cache_dir is not None else hub_cache_dir()
    return base / repo_folder_name(repo_id=repo_id, repo_type="model")


def folder_missing(folder: Path) -> list[str]:
    """What a model folder lacks: the :data:`CONFIG_FILES` not there, and :data:`WEIGHTS_LABEL` if
    neither weights file is. An empty list means the tokenizer and the model can load from it.

    >>> folder_missing(Path("/nonexistent"))
    ['config.json', 'tokenizer_config.json', 'vocab.txt', 'model.safetensors または pytorch_model.bin']
    """
    missing = [f for f in CONFIG_FILES if not (folder / f).is_file()]
    if not any((folder / w).is_file() for w in WEIGHT_FILES):
        missing.append(WEIGHTS_LABEL)
    return missing


def hub_cache_missing(repo_id: str = HUB_MODEL_ID) -> list[str]:
    """What the local hub cache lacks of ``repo_id`` at ``main`` (as :func:`folder_missing`; no network).

    An empty list means the model is complete in the cache: ``from_pretrained(repo_id)`` loads it
    offline, from ``model.safetensors`` or ``pytorch_model.bin``, whichever ``main`` has.
    """
    from huggingface_hub import try_to_load_from_cache

    def cached(filename: str) -> bool:
        found = try_to_load_from_cache(repo_id, filename)
        return isinstance(found, str) and os.path.isfile(found)

    missing = [f for f in CONFIG_FILES if not cached(f)]
    if not any(cached(w) for w in WEIGHT_FILES):
        missing.append(WEIGHTS_LABEL)
    return missing


def hub_snapshot_dir(repo_id: str = HUB_MODEL_ID) -> Path | None:
    """The cached snapshot directory of ``repo_id`` at ``main`` if the model is complete there, else None."""
    from huggingface_hub import try_to_load_from_cache

    if hub_cache_missing(repo_id):
        return None
    found = try_to_load_from_cache(repo_id, "config.json")
    return Path(str(found)).parent
