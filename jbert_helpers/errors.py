"""The one exception family that jbert_helpers raises on bad input or a broken set-up.

Every message says what was wrong and how to fix it, in Japanese first and English second,
so that a learner who meets it in a notebook knows what to type next.
"""

from __future__ import annotations


class JbertError(Exception):
    """Base class: something the learner or the machine can fix; the message says how."""


class EncodingError(JbertError, ValueError):
    """An encoding (``input_ids`` / ``attention_mask`` / ``token_type_ids``) breaks an invariant.

    Raised by :func:`jbert_helpers.check_encoding`; the message names the row, the position and
    the fix.
    """


class DeviceError(JbertError, RuntimeError):
    """The requested device (``JBERT_DEVICE`` or an argument) is not available here."""


class ModelResolutionError(JbertError, RuntimeError):
    """The model the learner asked for (``JBERT_MODEL``) cannot be used; the message says why."""


class StandinError(JbertError, RuntimeError):
    """The offline stand-in cannot be built or loaded (read-only cache, corrupt vocabulary …)."""


class TextCheckError(JbertError, ValueError):
    """:func:`jbert_helpers.check_text` got something it cannot check (not a str, a batch of many
    rows, a tokenizer without the MeCab → WordPiece stages …); the message says what to pass."""


class EncodingMismatchError(TextCheckError):
    """The encoding handed to :func:`jbert_helpers.check_text` is not this text's: its ids are not
    the ids the tokenizer gives for the text (even allowing for truncation and padding)."""


class TextAlignmentError(TextCheckError):
    """The tokenizer's two stages, re-run one at a time, do not reproduce ``tokenizer.tokenize``:
    a configuration :func:`jbert_helpers.check_text` does not know, so it reports nothing rather
    than something wrong."""


class AttentionPlotError(JbertError, ValueError):
    """The weights or tokens handed to :func:`jbert_helpers.attention.plot_attention` cannot be drawn; the message says why."""


class ParamCountError(JbertError, ValueError):
    """The config or model handed to lesson 04-15's ``formula_by_part`` / ``count_by_part`` cannot be counted."""


class RefreshError(JbertError, RuntimeError):
    """A notebook cannot be refreshed (a cell raised that is not meant to); the message names the cell."""


class PrefetchError(JbertError, RuntimeError):
    """The model cannot be fetched or imported (``jbert prefetch``); the message says why and what to do."""


class HandoutError(JbertError, ValueError):
    """Student copies cannot be made (``jbert handout``): no such notebook, or ``--out`` is the lessons' folder."""


class GradingError(JbertError, RuntimeError):
    """A folder of submissions cannot be graded (``jbert grade``): no such folder, or a lesson does not run here.

    A single bad submission is never this error: it gets a grade row with the reason.
    """


class DiagramError(JbertError, ValueError):
    """What was handed to a block diagram (:mod:`jbert_helpers.diagrams`) cannot be drawn; the message says what to pass."""


class WindowError(JbertError, ValueError):
    """A long text cannot be split into windows, or window outputs cannot be merged back
    (:mod:`jbert_helpers.windows`); the message says which argument to change."""


class ExerciseError(JbertError, KeyError):
    """An exercise key that is not registered, or a check cell that did not pass what it needs."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0]) if self.args else ""


class SaveError(JbertError, ValueError):
    """``jbert save``: a cell marked ``# jbert: save`` cannot be saved (not only definitions, a syntax
    error, a name two lessons define); the message names the notebook and cell (:mod:`jbert_helpers.tools.savegen`)."""
