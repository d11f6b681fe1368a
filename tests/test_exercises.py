"""The exercise check cell: ⏳ when unanswered, ✅ when right, ❌ with the hint when wrong;
every registered exercise's expected answer, computed from the stand-in (real vocabulary)."""

from __future__ import annotations

import doctest
import json
import re
from pathlib import Path

import pytest
from transformers import BertJapaneseTokenizer, BertModel

import jbert_helpers.exercises as exercises_module
from jbert_helpers import check, check_exercise, expected_answer
from jbert_helpers.exercises import EXERCISES, ExerciseError
from jbert_helpers.standin import ensure_standin

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# The answers the lessons' solutions give; the registry must compute exactly these.
ANSWERS: dict[str, object] = {
    "04-02-1": 10,
    "04-02-2": 50_331_648,
    "04-03-1": 3,
    "04-03-2": "习",
    "04-04-1": (9, 9),
    "04-04-2": ["今日", "は", "映画", "を", "見", "に", "行こ", "##う", "。"],
    "04-05-1": ["ディープ", "##ラー", "##ニング"],
    "04-05-2": 20,
    "04-06-1": 2,
    "04-06-2": ["欢学", "习日", "语"],
    "04-07-1": 11,
    "04-07-2": "明日 の 天気 は 晴れ だ 。",
    "04-08-1": "AI",
    "04-08-2": "[CLS] マシーンラーニング [SEP]",
    "04-09-1": 7,
    "04-09-2": 0.8176,
    "04-10-1": ["。"],
    "04-10-2": 11,
    "04-11-1": 4,
    "04-12-1": 11,
    "04-12-2": 33.9,
    "04-13-1": 8,
    "04-13-2": [9, 10],
    "04-13a-1": 9,  # 価 格 は １ ０ ０ 円 で す = positions 0-8, NUL at 9
    "04-13a-2": ["unk", "truncated"],  # [UNK] 野 ##家 kept; で 牛 丼 cut by max_length=5
    "04-14-1": 221.2,
    "04-14-2": 24_576_000,
    "04-15-1": 336_655_360,
    "04-15-2": 64,
    "04-16-1": 18,
    "04-16-2": (2, 768),
    "04-17-1": False,
    "04-18-1": (2, 12, 32, 32),
    "04-18-2": 294_912,
    "04-19-1": True,
    "04-19-2": 0,
    "04-20-1": 6144,
    "04-20-2": False,
}


@pytest.fixture(scope="module")
def objects() -> dict[str, object]:
    path = str(ensure_standin())
    return {
        "tokenizer": BertJapaneseTokenizer.from_pretrained(path, mecab_kwargs={"mecab_dic": "ipadic"}),
        "unidic": BertJapaneseTokenizer.from_pretrained(path, mecab_kwargs={"mecab_dic": "unidic_lite"}),
        "bert": BertModel.from_pretrained(path).eval(),
    }


@pytest.mark.parametrize(
    ("answer", "expected", "mark"),
    [(..., 13, "⏳"), (13, 13, "✅"), (12, 13, "❌"), ([2, 3], [2, 3], "✅"), ("2", 2, "❌")],
)
def test_verdicts(capsys: pytest.CaptureFixture[str], answer: object, expected: object, mark: str) -> None:
    assert check(answer, expected, what="トークン数", hint="[CLS] も数える") is None
    out = capsys.readouterr().out
    assert out.startswith(mark) and "トークン数" in out
    assert ("ヒント: [CLS] も数える" in out) == (mark == "❌")


def test_doctests() -> None:
    result = doctest.testmod(exercises_module)
    assert result.attempted > 0 and result.failed == 0


def test_every_exercise_has_its_answer() -> None:
    assert sorted(EXERCISES) == sorted(ANSWERS)


@pytest.mark.parametrize("key", sorted(ANSWERS))
def test_expected_answer(objects: dict[str, object], key: str) -> None:
    tokenizer = objects["unidic"] if key == "04-04-2" else objects["tokenizer"]
    assert expected_answer(key, tokenizer=tokenizer, bert=objects["bert"]) == ANSWERS[key]


def test_check_exercise_verdicts(capsys: pytest.CaptureFixture[str], objects: dict[str, object]) -> None:
    tok = objects["tokenizer"]
    check_exercise("04-07-1", ..., tokenizer=tok)
    check_exercise("04-07-1", 11, tokenizer=tok)
    check_exercise("04-07-1", 10, tokenizer=tok)
    unanswered, right, wrong = capsys.readouterr().out.splitlines()
    assert unanswered.startswith("⏳ 系列長") and right == "✅ 系列長: 正解です"
    assert wrong.startswith("❌ 系列長: 10 ではありません。ヒント:") and "11" not in wrong


def test_unknown_key_and_missing_object_are_named() -> None:
    with pytest.raises(ExerciseError, match="04-99-1"):
        check_exercise("04-99-1", ...)
    with pytest.raises(ExerciseError, match=r"tokenizer=tokenizer"):
        check_exercise("04-07-1", ...)  # the check cell forgot tokenizer=tokenizer


def _check_cells() -> list[tuple[str, str]]:
    cells = []
    for path in sorted(NOTEBOOKS.glob("04-*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and ("check(" in source or "check_exercise(" in source):
                cells.append((path.name, source))
    return cells


def test_check_cells_show_only_the_call() -> None:
    """A check cell is an import and one check_exercise call: no expected answer, no computation."""
    seen: list[str] = []
    call = re.compile(r'^check_exercise\("(04-\d\da?-\d)", answer2?(, (tokenizer|bert)=\w+)*\)$')
    for name, source in _check_cells():
        lines = [line for line in source.splitlines() if line and not line.startswith("from jbert_helpers import")]
        assert len(lines) == 1, f"{name}: the check cell must be one call, not {lines}"
        match = call.match(lines[0])
        assert match, f"{name}: {lines[0]!r} is not check_exercise(key, answer, objects…)"
        assert match.group(1).startswith(name.split("_")[0] + "-"), (
            f"{name} checks another lesson's exercise {match.group(1)}"
        )
        seen.append(match.group(1))
    assert sorted(seen) == sorted(EXERCISES), "every exercise is checked exactly once"
