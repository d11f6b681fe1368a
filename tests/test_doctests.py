"""Every docstring example in jbert_helpers runs and prints what it says (the package's doctests).

The one place they run: other test files do not call ``doctest.testmod`` again."""

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
    """A doctest run that finds no examples would pass silently: count them (found, not run again)."""
    finder = doctest.DocTestFinder()
    found = sum(len(t.examples) for n in MODULES for t in finder.find(importlib.import_module(n)))
    assert found >= 40, found
