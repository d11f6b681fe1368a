"""The exercise check cell: ⏳ when unanswered, ✅ when right, ❌ with the hint when wrong."""

from __future__ import annotations

import pytest

from jbert_helpers import check


@pytest.mark.parametrize(
    ("answer", "expected", "mark"),
    [(..., 13, "⏳"), (13, 13, "✅"), (12, 13, "❌"), ([2, 3], [2, 3], "✅"), ("2", 2, "❌")],
)
def test_verdicts(capsys: pytest.CaptureFixture[str], answer: object, expected: object, mark: str) -> None:
    assert check(answer, expected, what="トークン数", hint="[CLS] も数える") is None
    out = capsys.readouterr().out
    assert out.startswith(mark) and "トークン数" in out
    assert ("ヒント: [CLS] も数える" in out) == (mark == "❌")
