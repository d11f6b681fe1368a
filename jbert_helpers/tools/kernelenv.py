"""The environment every notebook kernel runs under, and how a cell says its output is not compared.

Stored outputs are compared by nbval, so the kernels that produce them (``jbert refresh``) and the
kernels that check them (``make test``, the audit, the browser and classroom checks, ``jbert grade``)
must run under the same conditions: no progress bars on stderr, the CPU, a fixed hash seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The environment under which notebooks are executed for storing (refresh) and for checking (nbval).
NOTEBOOK_ENV: dict[str, str] = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # transformers 5 draws "Loading weights" bars on stderr
    "HF_HUB_OFFLINE": "1",  # the model is decided by metadata.jbert.model, never by the network
    "TOKENIZERS_PARALLELISM": "false",
    "JBERT_DEVICE": "cpu",  # stored outputs print the device: keep it the same on every machine
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "PYTHONHASHSEED": "0",  # transformers' LOAD REPORT lists keys in set (hash) order
    "COLUMNS": "80",  # ... in a table whose columns depend on the terminal width
    "DISABLE_SAFETENSORS_CONVERSION": "1",  # no background download thread writing into a later cell
}

#: nbval's cell tag for "run this cell, do not compare its output"; the reason is in ``metadata.jbert.reason``.
IGNORE_TAG = "nbval-ignore-output"
#: nbval's older comment form of the same marker (tests/nbval_tags.py converts it into the tag).
IGNORE_COMMENT = "NBVAL_IGNORE_OUTPUT"


def ignored_cell(cell: Mapping[str, Any]) -> bool:
    """Whether nbval leaves this code cell's output uncompared (the tag, or the old comment form).

    >>> ignored_cell({"cell_type": "code", "metadata": {"tags": ["nbval-ignore-output"]}, "source": "x"})
    True
    >>> ignored_cell({"cell_type": "code", "metadata": {}, "source": "# NBVAL_IGNORE_OUTPUT\\nx"})
    True
    >>> ignored_cell({"cell_type": "code", "metadata": {}, "source": ["x"]})
    False
    """
    source = cell.get("source", "")
    text = source if isinstance(source, str) else "".join(source)
    return IGNORE_TAG in cell.get("metadata", {}).get("tags", []) or IGNORE_COMMENT in text
