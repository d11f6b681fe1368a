"""jbert_helpers: what the Japanese BERT lessons share, so that the notebooks stay short.

Each public helper's docstring names the lesson that introduces it. The figure helpers live in
``jbert_helpers.plots`` (padding, attention cost; 04-12) and ``jbert_helpers.attention``
(attention maps; 04-18) and are imported from there.

Names are imported on first use (PEP 562), so ``import jbert_helpers`` loads neither torch nor
matplotlib and never touches the network: ``jbert doctor`` and the model resolution start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "ConversionError": "errors",
    "DeviceError": "errors",
    "EncodingError": "errors",
    "JbertError": "errors",
    "ModelResolutionError": "errors",
    "StandinError": "errors",
    "conversion_steps": "convert",
    "json_size": "convert",
    "nested_shape": "convert",
    "to_numpy": "convert",
    "DeviceChoice": "device",
    "best_device": "device",
    "choose_device": "device",
    "move_batch": "device",
    "check": "exercises",
    "check_exercise": "exercises",
    "expected_answer": "exercises",
    "EncodingReport": "invariants",
    "RowReport": "invariants",
    "check_encoding": "invariants",
    "HUB_MODEL_ID": "models",
    "ModelChoice": "models",
    "choose_model": "models",
    "resolve_model_name": "models",
    "print_versions": "notebooks",
    "counted_breakdown": "params",
    "formula_breakdown": "params",
    "ensure_standin": "standin",
    "is_standin": "standin",
    "trace_wordpiece": "wordpiece",
}
__all__ = [
    "ConversionError",
    "DeviceChoice",
    "DeviceError",
    "EncodingError",
    "EncodingReport",
    "HUB_MODEL_ID",
    "JbertError",
    "ModelChoice",
    "ModelResolutionError",
    "RowReport",
    "StandinError",
    "best_device",
    "check",
    "check_encoding",
    "check_exercise",
    "choose_device",
    "choose_model",
    "conversion_steps",
    "counted_breakdown",
    "ensure_standin",
    "expected_answer",
    "formula_breakdown",
    "is_standin",
    "json_size",
    "move_batch",
    "nested_shape",
    "print_versions",
    "resolve_model_name",
    "to_numpy",
    "trace_wordpiece",
]
__version__ = "0.1.0"

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .convert import conversion_steps, json_size, nested_shape, to_numpy
    from .device import DeviceChoice, best_device, choose_device, move_batch
    from .errors import ConversionError, DeviceError, EncodingError, JbertError, ModelResolutionError, StandinError
    from .exercises import check, check_exercise, expected_answer
    from .invariants import EncodingReport, RowReport, check_encoding
    from .models import HUB_MODEL_ID, ModelChoice, choose_model, resolve_model_name
    from .notebooks import print_versions
    from .params import counted_breakdown, formula_breakdown
    from .standin import ensure_standin, is_standin
    from .wordpiece import trace_wordpiece


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jbert_helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
