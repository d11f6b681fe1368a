"""Every docstring example in jbert_helpers runs and prints what it says (the package's doctests)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import jbert_helpers
import jbert_helpers.tools

MODULES = sorted(
    [f"jbert_helpers.{m.name}" for m in pkgutil.iter_modules(jbert_helpers.__path__) if not m.ispkg]
    + [f"jbert_helpers.tools.{m.name}" for m in pkgutil.iter_modules(jbert_helpers.tools.__path__)]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (python -m doctest -v)"


def test_the_examples_exist() -> None:
    attempted = sum(doctest.testmod(importlib.import_module(n), verbose=False).attempted for n in MODULES)
    assert attempted >= 40, attempted  # a doctest run that finds no examples would pass silently
