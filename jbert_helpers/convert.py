"""From a model output to plain Python: tensor → CPU → NumPy → list, with what each step costs.

Introduced in lesson 04-20. ``.numpy()`` works only on a CPU tensor that does not require
grad; :func:`to_numpy` does the steps in the right order and says so when it cannot.

Example::

    >>> import torch
    >>> steps = conversion_steps(torch.zeros(2, 3))
    >>> [s.stage for s in steps]
    ['torch', 'cpu', 'numpy', 'list']
    >>> steps[2].nbytes
    24
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch

from .errors import ConversionError


@dataclass(frozen=True)
class Step:
    """One stage of the conversion: its type, dtype, shape, device and size in bytes."""

    stage: str
    type_name: str
    dtype: str
    shape: tuple[int, ...]
    device: str
    nbytes: int

    def __str__(self) -> str:
        return (
            f"{self.stage:<6} {self.type_name:<14} dtype={self.dtype:<14} shape={self.shape} "
            f"device={self.device:<5} bytes={self.nbytes:,}"
        )


def _require_tensor(tensor: object) -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise ConversionError(
            f"torch.Tensor を渡してください (渡されたのは {type(tensor).__name__})。"
            "モデルの出力なら output.last_hidden_state のようにテンソルを取り出します。"
        )
    return tensor


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """``tensor.detach().cpu().numpy()``, with a clear error for a non-tensor.

    ``detach`` drops the autograd graph (``.numpy()`` refuses a tensor that requires grad),
    ``cpu`` brings a CUDA/MPS tensor to host memory (NumPy lives there).
    """
    return _require_tensor(tensor).detach().cpu().numpy()


def nested_shape(value: object) -> tuple[int, ...]:
    """The shape of a nested list (its lengths along the first element), e.g. ``(2, 32, 768)``."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def json_size(value: object) -> int:
    """Bytes of ``value`` written as compact JSON text (UTF-8)."""
    return len(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def conversion_steps(tensor: torch.Tensor) -> list[Step]:
    """The four stages of tensor → CPU → NumPy → list, each with dtype, shape, device, bytes.

    The list's bytes are its size as compact JSON text, the form it is usually stored in.
    """
    t = _require_tensor(tensor)
    cpu = t.detach().cpu()
    arr = cpu.numpy()
    as_list = arr.tolist()
    t_bytes = t.element_size() * t.nelement()
    return [
        Step("torch", "Tensor", str(t.dtype), tuple(t.shape), str(t.device), t_bytes),
        Step("cpu", "Tensor", str(cpu.dtype), tuple(cpu.shape), str(cpu.device), t_bytes),
        Step("numpy", "ndarray", str(arr.dtype), arr.shape, "cpu", int(arr.nbytes)),
        Step("list", "list", "float (Python)", nested_shape(as_list), "cpu", json_size(as_list)),
    ]
