"""The exercise check cell: ⏳ when unanswered, ✅ when right, ❌ with the hint when wrong;
every registered exercise's expected answer, computed from the stand-in (real vocabulary)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import BertJapaneseTokenizer, BertModel

from jbert_helpers import check_exercise
from jbert_helpers.errors import ExerciseError
from jbert_helpers.exercises import EXERCISES, TENSOR_ATOL, check, expected_answer, tensors_close
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


# Lesson 04-18a's answers are tensors: rebuilt here by hand from the weights (the formulas of the
# lesson, written independently of jbert_helpers/exercises.py, which asks the model instead).
def _embeddings_by_hand(bert: BertModel, ids: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
    emb = bert.embeddings
    e = emb.word_embeddings.weight[ids] + emb.position_embeddings.weight[: ids.shape[1]]
    e = e + emb.token_type_embeddings.weight[tt]
    mu, var = e.mean(-1, keepdim=True), e.var(-1, unbiased=False, keepdim=True)
    return (e - mu) / torch.sqrt(var + emb.LayerNorm.eps) * emb.LayerNorm.weight + emb.LayerNorm.bias


def _layer_by_hand(
    bert: BertModel, i: int, x: torch.Tensor, mask: torch.Tensor, *, use_mask: bool = True
) -> torch.Tensor:
    layer, c = bert.encoder.layer[i], bert.config
    b, n, h = x.shape
    heads, dk = c.num_attention_heads, c.hidden_size // c.num_attention_heads
    sa = layer.attention.self
    q, k, v = ((x @ m.weight.T + m.bias).view(b, n, heads, dk).transpose(1, 2) for m in (sa.query, sa.key, sa.value))
    scores = q @ k.transpose(-1, -2) / math.sqrt(dk)
    if use_mask:
        scores = scores + torch.where(mask[:, None, None, :] == 1, 0.0, torch.finfo(scores.dtype).min)
    context = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, n, h)
    ao = layer.attention.output
    x = F.layer_norm(
        x + context @ ao.dense.weight.T + ao.dense.bias, (h,), ao.LayerNorm.weight, ao.LayerNorm.bias, ao.LayerNorm.eps
    )
    ffn = F.gelu(x @ layer.intermediate.dense.weight.T + layer.intermediate.dense.bias)
    out = layer.output
    return F.layer_norm(
        x + ffn @ out.dense.weight.T + out.dense.bias, (h,), out.LayerNorm.weight, out.LayerNorm.bias, out.LayerNorm.eps
    )


def _pair(tokenizer: BertJapaneseTokenizer) -> dict[str, torch.Tensor]:
    return tokenizer(
        "明日の天気は晴れだ。", "パソコンが急に動かなくなった。", return_tensors="pt", return_token_type_ids=True
    )


def _batch(tokenizer: BertJapaneseTokenizer) -> dict[str, torch.Tensor]:
    texts = ["明日は自然言語処理の勉強をしよう。", "明日はマシーンラーニングの勉強をしよう。"]
    return tokenizer(texts, padding=True, return_tensors="pt", return_token_type_ids=True)


def _pair_answer(tokenizer: BertJapaneseTokenizer, bert: BertModel) -> torch.Tensor:
    pair = _pair(tokenizer)
    return _embeddings_by_hand(bert, pair["input_ids"], pair["token_type_ids"])


def _layer_2_answer(tokenizer: BertJapaneseTokenizer, bert: BertModel) -> torch.Tensor:
    enc = _batch(tokenizer)
    x0 = _embeddings_by_hand(bert, enc["input_ids"], enc["token_type_ids"])
    x1 = _layer_by_hand(bert, 0, x0, enc["attention_mask"])
    return _layer_by_hand(bert, 1, x1, enc["attention_mask"])


TENSOR_ANSWERS: dict[str, Callable[[BertJapaneseTokenizer, BertModel], torch.Tensor]] = {
    "04-18a-1": _pair_answer,
    "04-18a-2": _layer_2_answer,
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


def test_every_exercise_has_its_answer() -> None:
    assert sorted(EXERCISES) == sorted([*ANSWERS, *TENSOR_ANSWERS])


@pytest.mark.parametrize("key", sorted(ANSWERS))
def test_expected_answer(objects: dict[str, object], key: str) -> None:
    tokenizer = objects["unidic"] if key == "04-04-2" else objects["tokenizer"]
    assert expected_answer(key, tokenizer=tokenizer, bert=objects["bert"]) == ANSWERS[key]


@pytest.mark.parametrize("key", sorted(TENSOR_ANSWERS))
def test_expected_tensor_answer(objects: dict[str, object], key: str) -> None:
    with torch.no_grad():
        by_hand = TENSOR_ANSWERS[key](objects["tokenizer"], objects["bert"])
        expected = expected_answer(key, tokenizer=objects["tokenizer"], bert=objects["bert"])
    assert tuple(expected.shape) == {"04-18a-1": (1, 19, 768), "04-18a-2": (2, 14, 768)}[key]
    assert tensors_close(by_hand, expected)
    assert float((by_hand - expected).abs().max()) < TENSOR_ATOL / 5  # float32 rounding only, well inside


def _wrong_tensor_answers(tokenizer: BertJapaneseTokenizer, bert: BertModel) -> dict[str, list[torch.Tensor]]:
    """Answers with one mistake each, the mistakes the exercises' hints are about."""
    pair, enc = _pair(tokenizer), _batch(tokenizer)
    x0 = _embeddings_by_hand(bert, enc["input_ids"], enc["token_type_ids"])
    x1 = _layer_by_hand(bert, 0, x0, enc["attention_mask"])
    return {
        "04-18a-1": [
            _embeddings_by_hand(bert, pair["input_ids"], torch.zeros_like(pair["token_type_ids"])),  # no segment B
            _embeddings_by_hand(bert, pair["input_ids"], pair["token_type_ids"])[0],  # [L, H]: batch axis dropped
        ],
        "04-18a-2": [
            _layer_by_hand(bert, 1, x1, enc["attention_mask"], use_mask=False),  # the [PAD] keys not masked
            _layer_by_hand(bert, 0, x1, enc["attention_mask"]),  # layer 0's weights again
            x1,  # hidden_states[1] itself
        ],
    }


@pytest.mark.slow  # a fresh interpreter or a model rebuilt: `make ci`
def test_tensor_exercises_right_wrong_and_unanswered(
    capsys: pytest.CaptureFixture[str], objects: dict[str, object]
) -> None:
    tok, bert = objects["tokenizer"], objects["bert"]
    with torch.no_grad():
        wrong = _wrong_tensor_answers(tok, bert)
        for key, make in sorted(TENSOR_ANSWERS.items()):
            what, hint = EXERCISES[key].what, EXERCISES[key].hint
            check_exercise(key, ..., tokenizer=tok, bert=bert)
            check_exercise(key, make(tok, bert), tokenizer=tok, bert=bert)
            check_exercise(key, make(tok, bert).tolist(), tokenizer=tok, bert=bert)  # a list, not a tensor
            for answer in wrong[key]:
                check_exercise(key, answer, tokenizer=tok, bert=bert)
            unanswered, right, as_list, *mistakes = capsys.readouterr().out.splitlines()
            assert unanswered.startswith(f"⏳ {what}") and right == f"✅ {what}: 正解です"
            assert as_list.startswith(f"❌ {what}: [[") and as_list.endswith(f"… ではありません。ヒント: {hint}")
            assert len(as_list) < 120 + len(hint)  # a long answer is cut, not printed in full
            assert len(mistakes) == len(wrong[key])
            for line, answer in zip(mistakes, wrong[key], strict=True):
                assert line == f"❌ {what}: 形 {tuple(answer.shape)} のテンソルですが、値が一致しません。ヒント: {hint}"


def test_the_lesson_states_the_checkers_tolerance() -> None:
    """04-18a compares with torch.allclose(..., atol=1e-5): the same tolerance as the check cells."""
    lesson = json.loads((NOTEBOOKS / "04-18a_inside_bert.ipynb").read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in lesson["cells"] if c["cell_type"] == "code")
    atols = re.findall(r"atol=([0-9.e-]+)", code)
    assert atols and {float(a) for a in atols} == {TENSOR_ATOL}


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
