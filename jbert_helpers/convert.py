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
    >>> print(steps[3].describe(show_bytes=False))
    list   list           dtype=float (Python) shape=(2, 3) device=cpu   bytes=(値しだい)
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

    @property
    def bytes_depend_on_values(self) -> bool:
        """True for the list stage: its size as JSON text depends on each float's digits.

        The other stages' bytes are fixed by dtype and shape (elements × bytes per element).
        """
        return self.stage == "list"

    def describe(self, *, show_bytes: bool = True) -> str:
        """One aligned line; ``show_bytes=False`` leaves the size out (``bytes=(値しだい)``).

        Printing ``step.describe(show_bytes=not step.bytes_depend_on_values)`` gives output
        that does not depend on the model's weights (introduced in lesson 04-20).
        """
        size = f"{self.nbytes:,}" if show_bytes else "(値しだい)"
        return (
            f"{self.stage:<6} {self.type_name:<14} dtype={self.dtype:<14} shape={self.shape} "
            f"device={self.device:<5} bytes={size}"
        )

    def __str__(self) -> str:
        return self.describe()


def _require_tensor(tensor: object) -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise ConversionError(
            f"torch.Tensor を渡してください (渡されたのは {type(tensor).__name__})。"
            "モデルの出力なら output.last_hidden_state のようにテンソルを取り出します。"
        )
    return tensor


def _cpu_numpy(tensor: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
    """``tensor.detach().cpu()`` and its NumPy view, with a clear error for dtypes NumPy lacks."""
    cpu = tensor.detach().cpu()
    try:
        return cpu, cpu.numpy()
    except TypeError as e:  # bfloat16 and a few others have no NumPy dtype
        raise ConversionError(
            f"dtype {tensor.dtype} は NumPy にない型なので .numpy() できません。"
            "先に .float() で float32 にしてから変換してください (例: tensor.float().cpu().numpy())。"
        ) from e


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """``tensor.detach().cpu().numpy()``, with a clear error for a non-tensor.

    ``detach`` drops the autograd graph (``.numpy()`` refuses a tensor that requires grad),
    ``cpu`` brings a CUDA/MPS tensor to host memory (NumPy lives there). A dtype NumPy lacks
    (``bfloat16``) raises :class:`ConversionError` saying to call ``.float()`` first.
    """
    return _cpu_numpy(_require_tensor(tensor))[1]


def nested_shape(value: object) -> tuple[int, ...]:
    """The shape of a nested list (its lengths along the first element), e.g. ``(2, 32, 768)``."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def element_type(value: object) -> str:
    """The Python type of a nested list's first scalar, e.g. ``float (Python)``; ``(空)`` if empty."""
    while isinstance(value, list):
        if not value:
            return "(空)"
        value = value[0]
    return f"{type(value).__name__} (Python)"


def json_size(value: object) -> int:
    """Bytes of ``value`` written as compact JSON text (UTF-8)."""
    return len(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def conversion_steps(tensor: torch.Tensor) -> list[Step]:
    """The four stages of tensor → CPU → NumPy → list, each with dtype, shape, device, bytes.

    The list's bytes are its size as compact JSON text, the form it is usually stored in.
    """
    t = _require_tensor(tensor)
    cpu, arr = _cpu_numpy(t)
    as_list = arr.tolist()
    t_bytes = t.element_size() * t.nelement()
    return [
        Step("torch", "Tensor", str(t.dtype), tuple(t.shape), str(t.device), t_bytes),
        Step("cpu", "Tensor", str(cpu.dtype), tuple(cpu.shape), str(cpu.device), t_bytes),
        Step("numpy", "ndarray", str(arr.dtype), arr.shape, "cpu", int(arr.nbytes)),
        Step("list", "list", element_type(as_list), nested_shape(as_list), "cpu", json_size(as_list)),
    ]
