"""Choosing the device the lessons compute on.

The book writes ``bert.cuda()``, which fails on a Mac and on a CPU-only machine. The lessons
call :func:`best_device` instead: Apple's MPS, then CUDA, then the CPU — or what the learner
asks for in ``JBERT_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``, ``auto``). Introduced in
lesson 04-14. A batch goes to that device with the library's own ``encoding.to(device)``
(``BatchEncoding.to`` moves every tensor and returns the ``BatchEncoding``; lesson 04-16).

Example::

    >>> import torch
    >>> best_device("cpu")
    device(type='cpu')
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .errors import DeviceError

_FIX_ENV = "JBERT_DEVICE=cpu (または auto) にするか、変数を外してください。"
_FIX_ARG = "引数を 'cpu' か 'auto' にするか、引数なしの best_device() で自動選択してください。"


@dataclass(frozen=True)
class DeviceChoice:
    """A device and why it was chosen."""

    device: torch.device
    reason: str


def _available(kind: str) -> bool:
    if kind == "cpu":
        return True
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return torch.backends.mps.is_available() and torch.backends.mps.is_built()
    return False


def choose_device(requested: str | None = None) -> DeviceChoice:
    """The device to use and why: ``requested``, else ``$JBERT_DEVICE``, else MPS → CUDA → CPU.

    Raises :class:`~jbert_helpers.errors.DeviceError` if the requested device is unknown or
    not available here, with the fix in the message.
    """
    by, of, fix = "引数で", "引数の値", _FIX_ARG
    if requested is None:
        requested = os.environ.get("JBERT_DEVICE") or None
        by, of, fix = "環境変数 JBERT_DEVICE で", "環境変数 JBERT_DEVICE の値", _FIX_ENV
    if requested is None or requested.strip().lower() == "auto":
        for kind in ("mps", "cuda"):
            if _available(kind):
                return DeviceChoice(torch.device(kind), f"{kind.upper()} が使えるので自動選択")
        return DeviceChoice(torch.device("cpu"), "MPS も CUDA もないので CPU")
    text = requested.strip().lower()
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError) as e:
        raise DeviceError(
            f"{of} {requested!r} はデバイス名ではありません (cpu / cuda / cuda:0 / mps / auto)。{fix}"
        ) from e
    out_of_range = dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count()
    if dev.type not in {"cpu", "cuda", "mps"} or not _available(dev.type) or out_of_range:
        # The message is the same on every machine (a CPU-only one, a Mac, a machine with one GPU),
        # so that a notebook that shows it stores comparable output; the status is one call away.
        raise DeviceError(
            f"{by} {requested!r} が指定されましたが、この機械では使えません "
            "(使えるかは torch.cuda.is_available() / torch.cuda.device_count() / "
            f"torch.backends.mps.is_available() で確かめられます)。{fix}"
        )
    return DeviceChoice(dev, f"{by} {text} を指定")


def best_device(requested: str | None = None) -> torch.device:
    """The device the lessons compute on (see :func:`choose_device`)."""
    return choose_device(requested).device
