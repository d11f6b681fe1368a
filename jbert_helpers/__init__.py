"""jbert_helpers: what the Japanese BERT lessons share, so that the notebooks stay short.

Each public helper's docstring names the lesson that introduces it. The figure helpers live in
``jbert_helpers.plots`` (padding, attention cost; 04-12) and ``jbert_helpers.attention``
(attention maps; 04-18) and are imported from there, so that ``import jbert_helpers`` does not
load matplotlib.
"""

from .convert import conversion_steps, json_size, nested_shape, to_numpy
from .device import DeviceChoice, best_device, choose_device, move_batch
from .errors import (
    ConversionError,
    DeviceError,
    EncodingError,
    JbertError,
    ModelResolutionError,
    StandinError,
)
from .exercises import check
from .invariants import EncodingReport, RowReport, check_encoding
from .models import HUB_MODEL_ID, ModelChoice, choose_model, resolve_model_name
from .notebooks import print_versions
from .params import counted_breakdown, formula_breakdown
from .standin import ensure_standin, is_standin
from .wordpiece import trace_wordpiece

__all__ = [
    "HUB_MODEL_ID",
    "ConversionError",
    "DeviceChoice",
    "DeviceError",
    "EncodingError",
    "EncodingReport",
    "JbertError",
    "ModelChoice",
    "ModelResolutionError",
    "RowReport",
    "StandinError",
    "best_device",
    "check",
    "check_encoding",
    "choose_device",
    "choose_model",
    "conversion_steps",
    "counted_breakdown",
    "ensure_standin",
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
