"""Example-based tests of jbert_helpers.invariants (lessons 04-11 to 04-13): the encoding checker.

Good encodings come from the real tokenizer over the real vocabulary (the stand-in's), so the
positions asserted here are the ones the lessons print; bad ones are made the ways learners make
them. Every failure must be an :class:`EncodingError` naming the row, the position and a fix.
(Property tests over random texts live in tests/test_properties.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertJapaneseTokenizer

from jbert_helpers.errors import EncodingError, JbertError
from jbert_helpers.invariants import EncodingReport, check_encoding
from jbert_helpers.standin import ensure_standin

TEXTS = ["明日の天気は晴れだ。", "パソコンが急に動かなくなった。"]
# Token counts under ipadic (ARCHITECTURE.md): 明日/の/天気/は/晴れ/だ/。 = 7, パソコン/が/急/に/動か/なく/なっ/た/。 = 9.
WORDS = [7, 9]


@pytest.fixture(scope="module")
def tokenizer() -> BertJapaneseTokenizer:
    return BertJapaneseTokenizer.from_pretrained(str(ensure_standin()), mecab_kwargs={"mecab_dic": "ipadic"})


def ids_kwargs(tok: BertJapaneseTokenizer) -> dict[str, int]:
    return {
        "cls_id": tok.cls_token_id,
        "sep_id": tok.sep_token_id,
        "pad_id": tok.pad_token_id,
        "max_positions": tok.model_max_length,
    }


# --- good encodings: the report -----------------------------------------------------------------


def test_batch_max_length_10_rows(tokenizer):
    enc = tokenizer(TEXTS, max_length=10, padding="max_length", truncation=True)
    report = check_encoding(enc, **ids_kwargs(tokenizer))
    assert isinstance(report, EncodingReport)
    r0, r1 = report.rows
    # row 0: 7 words + [CLS] + [SEP] = 9, one [PAD]; row 1: 9 words cut to 8, + 2 = 10, no [PAD]
    assert (r0.length, r0.effective_length, r0.sep_positions, r0.pad_count) == (10, 9, (8,), 1)
    assert (r1.length, r1.effective_length, r1.sep_positions, r1.pad_count) == (10, 10, (9,), 0)
    assert r0.kind == r1.kind == "single" and r0.cls_position == r1.cls_position == 0


def test_report_prints_one_line_per_row(tokenizer):
    report = check_encoding(tokenizer(TEXTS, padding="longest"))
    lines = str(report).splitlines()
    assert len(lines) == 1 + 2
    assert lines[1].split()[:5] == ["0", "single", "11", "9", "0"]
    assert repr(report) == str(report)


def test_tensors_lists_and_arrays_give_the_same_report(tokenizer):
    as_lists = tokenizer(TEXTS, padding="longest")
    as_tensors = tokenizer(TEXTS, padding="longest", return_tensors="pt")
    as_arrays = {k: np.array(v) for k, v in as_lists.items()}
    assert check_encoding(as_lists) == check_encoding(as_tensors) == check_encoding(as_arrays)


def test_unpadded_ragged_batch_is_valid(tokenizer):
    # tokenizer(texts) without padding gives rows of different lengths: each row is still well formed
    report = check_encoding(tokenizer(TEXTS), **ids_kwargs(tokenizer))
    assert [r.effective_length for r in report.rows] == [w + 2 for w in WORDS]
    assert [r.pad_count for r in report.rows] == [0, 0]


def test_pair_segments(tokenizer):
    enc = tokenizer("文A", "文B", return_token_type_ids=True)
    (row,) = check_encoding(enc, **ids_kwargs(tokenizer)).rows
    # [CLS] 文 A [SEP] | 文 B [SEP]
    assert row.kind == "pair"
    assert row.sep_positions == (3, 6)
    assert (row.segment_a, row.segment_b) == (4, 3)


def test_padded_pair_batch(tokenizer):
    enc = tokenizer(
        ["文A", TEXTS[0]], ["文B", TEXTS[1]], padding="longest", return_token_type_ids=True, return_tensors="pt"
    )
    r0, r1 = check_encoding(enc, **ids_kwargs(tokenizer)).rows
    assert r0.pad_count == r1.length - 7
    assert (r1.segment_a, r1.segment_b) == (WORDS[0] + 2, WORDS[1] + 1)


@pytest.mark.parametrize("text", ["😀と🍣", "ｶﾀｶﾅとﾊﾝｶｸ", "abc ＡＢＣ １２３", ""])
def test_emoji_half_width_kana_and_empty_text_pass(tokenizer, text):
    enc = tokenizer(text, return_tensors="pt")
    (row,) = check_encoding(enc, **ids_kwargs(tokenizer)).rows
    assert row.effective_length == len(tokenizer.tokenize(text)) + 2


def test_over_512_tokens_truncated_passes(tokenizer):
    enc = tokenizer("明日の天気は晴れだ。" * 80, truncation=True, max_length=512)
    (row,) = check_encoding(enc, **ids_kwargs(tokenizer)).rows
    assert row.length == 512 and row.sep_positions == (511,)


# --- bad encodings: one exception type, with row, position and fix ------------------------------


def _error(enc, **kwargs) -> str:
    with pytest.raises(EncodingError) as info:
        check_encoding(enc, **kwargs)
    assert isinstance(info.value, JbertError) and isinstance(info.value, ValueError)
    return str(info.value)


def test_add_special_tokens_false(tokenizer):
    enc = tokenizer(TEXTS, add_special_tokens=False, padding="longest", return_tensors="pt")
    msg = _error(enc, **ids_kwargs(tokenizer))
    assert msg.startswith("行 0、位置 0:")
    assert "[CLS]" in msg and "add_special_tokens=False を外して" in msg


def test_mask_bit_flipped_on_pad(tokenizer):
    enc = tokenizer(TEXTS, max_length=10, padding="max_length", truncation=True, return_tensors="pt")
    broken = {k: v.clone() for k, v in enc.items()}
    broken["attention_mask"][0, 9] = 1
    msg = _error(broken, **ids_kwargs(tokenizer))
    assert msg.startswith("行 0、位置 9:") and "[PAD] なのに 1" in msg and "修正" in msg
    assert enc["attention_mask"][0, 9] == 0  # the clone did not touch the original


def test_mask_bit_flipped_on_real_token(tokenizer):
    enc = tokenizer(TEXTS, padding="longest")
    enc["attention_mask"][1][4] = 0
    msg = _error(enc)
    assert msg.startswith("行 1、位置 4:") and "実トークンなのに 0" in msg


def test_mask_of_other_length(tokenizer):
    enc = dict(tokenizer(TEXTS[0]))
    enc["attention_mask"] = enc["attention_mask"][:-1]
    msg = _error(enc)
    assert msg.startswith("行 0:") and "attention_mask の長さ 8" in msg and "9" in msg


def test_sliced_tensor_loses_sep(tokenizer):
    enc = tokenizer(TEXTS, max_length=10, padding="max_length", truncation=True, return_tensors="pt")
    msg = _error({k: v[:, :8] for k, v in enc.items()}, **ids_kwargs(tokenizer))
    assert msg.startswith("行 0、位置 7:") and "[SEP]" in msg and "truncation=True" in msg


def test_over_512_tokens_untruncated(tokenizer):
    enc = tokenizer("明日の天気は晴れだ。" * 80)  # ~720 tokens, longer than the 512 positions
    assert len(enc["input_ids"]) > 512
    msg = _error(enc, **ids_kwargs(tokenizer))
    assert msg.startswith("行 0:") and "512" in msg and "truncation=True" in msg


def test_left_padding_named(tokenizer):
    enc = tokenizer(TEXTS, padding="longest", padding_side="left")
    msg = _error(enc, **ids_kwargs(tokenizer))
    assert msg.startswith("行 0、位置 0:") and "padding_side='left'" in msg


def test_pad_inside_the_sentence():
    msg = _error({"input_ids": [[2, 11475, 0, 8, 3]]})
    assert msg.startswith("行 0、位置 2:") and "[PAD]" in msg


def test_second_cls_and_too_many_seps():
    assert _error({"input_ids": [2, 11475, 2, 3]}).startswith("行 0、位置 2:")
    assert "[SEP] が 3 個" in _error({"input_ids": [2, 5, 3, 6, 3, 7, 3]})


def test_pair_without_segment_b(tokenizer):
    enc = tokenizer("文A", "文B", return_token_type_ids=True)
    enc["token_type_ids"] = [0] * len(enc["input_ids"])
    msg = _error(enc, **ids_kwargs(tokenizer))
    assert msg.startswith("行 0、位置 4:") and "return_token_type_ids=True" in msg


def test_segment_one_on_a_single_sentence():
    msg = _error({"input_ids": [2, 5, 3, 0], "token_type_ids": [0, 0, 0, 1]})
    assert msg.startswith("行 0、位置 3:") and "[PAD]" in msg


@pytest.mark.parametrize(
    ("encoding", "words"),
    [
        ({"input_ids": []}, "空のバッチ"),
        ({"input_ids": [[2, 3], 5]}, "行 1"),  # ragged: a row that is not a list
        ({"input_ids": [[2, 3.0, 3]]}, "行 0、位置 1"),  # a float id
        ({"input_ids": torch.tensor([[2.0, 3.0]])}, "dtype"),
        ({"input_ids": np.array([[2.0, 3.0]])}, "dtype"),
        ({"input_ids": torch.tensor([[2, 3]]), "attention_mask": torch.tensor([[True, True]])}, "dtype"),
        ({"input_ids": torch.zeros(1, 1, 3, dtype=torch.long)}, "次元"),
        ({"input_ids": "[CLS] 明日 [SEP]"}, "整数のリスト"),
        ({"attention_mask": [1, 1]}, "'input_ids' がありません"),
        ({"input_ids": [[2, 3]], "attention_mask": [[1, 1], [1, 1]]}, "行数"),
        ({"input_ids": [[3]]}, "長さがありません"),
        ([2, 3], "辞書"),
    ],
)
def test_malformed_input(encoding, words):
    assert words in _error(encoding)
