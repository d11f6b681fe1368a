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


class ConversionError(JbertError, TypeError):
    """A value handed to :mod:`jbert_helpers.convert` is not a tensor that can be converted."""


class HandoutError(JbertError, ValueError):
    """Student copies cannot be made (``jbert handout``): no such notebook, or ``--out`` is the lessons' folder."""


class GradingError(JbertError, RuntimeError):
    """A folder of submissions cannot be graded (``jbert grade``): no such folder, or a lesson does not run here.

    A single bad submission is never this error: it gets a grade row with the reason.
    """
