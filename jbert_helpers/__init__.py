"""jbert_helpers: what the Japanese BERT lessons share that is not a lesson's own subject.

Model choice (``resolve_model_name``), the device, the invariant and exercise checks, figures, the text
checker as a tool, and the functions the lessons teach — those are written in the lesson's own cells
(marked ``# jbert: save``) and copied into :mod:`jbert_helpers.saved` by ``jbert save``.

Every name exported here is used by a lesson, and lessons import from ``jbert_helpers`` only
(``tests/test_saved.py``, ``tests/test_package.py``). Errors a lesson does not name, result types and
what only the tools use stay in their modules (``jbert_helpers.errors`` …). The teachers' and CI's tools
(the ``jbert`` command) live in :mod:`jbert_helpers.tools`.

Names are imported on first use (PEP 562), so ``import jbert_helpers`` loads neither torch nor
matplotlib and never touches the network: ``jbert doctor`` and the model resolution start fast.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "EncodingError": "errors",
    "best_device": "device",
    "choose_device": "device",
    "check_exercise": "exercises",
    "check_encoding": "invariants",
    "resolve_model_name": "models",
    "print_versions": "versions",
    "is_standin": "standin",
    "check_text": "textcheck",
    "ParamCountError": "errors",
    "plot_padding": "plots",
    "plot_attention_mask": "plots",
    "WindowError": "errors",
    "plot_bert_architecture": "diagrams",
    "plot_word_pieces": "diagrams",
    "plot_text_report": "diagrams",
    "plot_gelu": "diagrams",
    "plot_head_split": "diagrams",
    "plot_windows": "windows",
    "window_spans": "saved",
    "split_windows": "saved",
    "max_context_window": "saved",
    "merge_windows": "saved",
    "plot_attention": "attention",
    "plot_mask_effect": "attention",
    "WordAlignment": "saved",
    "align_words": "saved",
    "WordPieceStep": "saved",
    "wordpiece_tokenize": "saved",
    "self_attention": "saved",
    "encoder_layer": "saved",
    "bert_encoder": "saved",
    "additive_mask": "saved",
    "formula_by_part": "saved",
    "count_by_part": "saved",
}
__all__ = sorted(_EXPORTS)
__version__ = importlib.metadata.version("jbert-helpers")

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .attention import plot_attention, plot_mask_effect
    from .device import best_device, choose_device
    from .diagrams import plot_bert_architecture, plot_gelu, plot_head_split, plot_text_report, plot_word_pieces
    from .errors import EncodingError, ParamCountError, WindowError
    from .exercises import check_exercise
    from .invariants import check_encoding
    from .models import resolve_model_name
    from .plots import plot_attention_mask, plot_padding
    from .saved import (
        WordAlignment,
        WordPieceStep,
        additive_mask,
        align_words,
        bert_encoder,
        count_by_part,
        encoder_layer,
        formula_by_part,
        max_context_window,
        merge_windows,
        self_attention,
        split_windows,
        window_spans,
        wordpiece_tokenize,
    )
    from .standin import is_standin
    from .textcheck import check_text
    from .versions import print_versions
    from .windows import plot_windows


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jbert_helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
