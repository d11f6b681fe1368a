"""Tests of jbert_helpers.windows (lesson 04-10): overlapping windows over a long text and merging back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import BertJapaneseTokenizer

from jbert_helpers import TokenWindows, WindowError, merge_windows, split_windows, window_spans
from jbert_helpers.standin import ensure_standin


@pytest.fixture(scope="module")
def tokenizer() -> BertJapaneseTokenizer:
    return BertJapaneseTokenizer.from_pretrained(str(ensure_standin()), mecab_kwargs={"mecab_dic": "ipadic"})


def test_spans_of_the_lesson():
    # 84 tokens, 30 per window, a new window every 30 - 8 = 22 tokens
    assert window_spans(84, 32, 8) == [(0, 30), (22, 52), (44, 74), (66, 84)]
    # BERT's real size: 560 tokens, 510 per window, step 382
    assert window_spans(560, 512, 128) == [(0, 510), (382, 560)]
    assert window_spans(510, 512, 128) == [(0, 510)]  # fits: one window, no overlap
    assert window_spans(0, 512, 128) == [(0, 0)]


@settings(max_examples=80, deadline=None, derandomize=True)
@given(n=st.integers(1, 3000), max_length=st.integers(3, 600), data=st.data())
def test_spans_cover_every_position_and_overlap_by_stride(n, max_length, data):
    stride = data.draw(st.integers(0, max_length - 3))
    spans = window_spans(n, max_length, stride)
    room = max_length - 2
    assert spans[0][0] == 0 and spans[-1][1] == n
    assert all(0 < e - s <= room for s, e in spans)
    for (s0, e0), (s1, e1) in zip(spans, spans[1:], strict=False):
        assert s1 - s0 == room - stride  # a constant step
        assert e0 - s1 == stride  # consecutive windows share exactly `stride` tokens
        assert e1 > e0
    assert len(spans) == 1 or spans[-2][1] < n  # no window after the one that reaches the end


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((10, 12, 10), "stride"),
        ((10, 12, 11), "stride"),
        ((10, 2, 0), "max_length"),
        ((-1, 12, 2), "n_tokens"),
        ((10, 12, 1.5), "stride"),
        ((10, True, 1), "max_length"),
    ],
)
def test_spans_reject_bad_arguments(args, words):
    with pytest.raises(WindowError, match=words):
        window_spans(*args)


def test_split_windows_rows_are_cls_window_sep_pad(tokenizer):
    text = "明日の天気は晴れだ。" * 12
    w = split_windows(tokenizer, text, max_length=32, stride=8)
    assert list(w.tokens) == tokenizer.tokenize(text)
    assert len(w.input_ids) == 4 and {len(r) for r in w.input_ids} == {32}
    for row, mask, (s, e) in zip(w.input_ids, w.attention_mask, w.spans, strict=True):
        assert row[0] == tokenizer.cls_token_id and row[e - s + 1] == tokenizer.sep_token_id
        assert row[1 : e - s + 1] == list(w.ids[s:e])
        assert sum(mask) == e - s + 2 and all(t == tokenizer.pad_token_id for t in row[e - s + 2 :])
    # the library's own encoding of the first 30 tokens is the first window
    assert w.input_ids[0] == tokenizer(text, max_length=32, truncation=True)["input_ids"]


def test_library_stride_gives_no_windows_for_the_slow_tokenizer(tokenizer):
    # measured with transformers 5.24: one row, and the cut tokens plus `stride` tokens before them
    text = "明日の天気は晴れだ。" * 12  # 84 tokens
    enc = tokenizer(text, max_length=32, truncation=True, stride=8, return_overflowing_tokens=True)
    assert len(enc["input_ids"]) == 32 and isinstance(enc["input_ids"][0], int)
    assert len(enc["overflowing_tokens"]) == 84 - 30 + 8


def test_merge_back_reproduces_the_text_ids(tokenizer):
    w = split_windows(tokenizer, "パソコンが急に動かなくなった。" * 9, max_length=20, stride=6)
    assert merge_windows(w, w.input_ids).tolist() == list(w.ids)
    assert merge_windows(w, torch.tensor(w.input_ids), how="mean").tolist() == list(w.ids)


def test_central_takes_the_window_with_more_context():
    w = TokenWindows(tuple("abcdefgh"), tuple(range(8)), ((0, 6), (3, 8)), 8, 3, 90, 91, 0)
    # position 3: 3 left / 2 right in window 0 (min 2), 0 left in window 1 -> window 0
    # position 4: min 1 in both; window 0 is longer (+0.01 per token, the run_squad.py tie-break) -> window 0
    # position 5: 0 right in window 0, 2 left / 2 right in window 1 -> window 1
    assert w.owners() == [0, 0, 0, 0, 0, 1, 1, 1]
    outputs = np.array([[[k, k]] * 8 for k in (10, 20)], dtype=float)  # window k outputs k everywhere
    assert merge_windows(w, outputs).tolist() == [[10, 10]] * 5 + [[20, 20]] * 3
    assert merge_windows(w, outputs, how="mean")[:, 0].tolist() == [10, 10, 10, 15, 15, 15, 20, 20]


@pytest.mark.parametrize(
    ("outputs", "kwargs", "words"),
    [
        (np.zeros((1, 8)), {}, "窓の数"),
        (np.zeros((2, 5)), {}, "系列長"),
        (np.zeros(2), {}, "形"),
        (np.zeros((2, 8)), {"how": "max"}, "central"),
    ],
)
def test_merge_rejects_outputs_that_do_not_fit(outputs, kwargs, words):
    w = TokenWindows(tuple("abcdefgh"), tuple(range(8)), ((0, 6), (3, 8)), 8, 3, 90, 91, 0)
    with pytest.raises(WindowError, match=words):
        merge_windows(w, outputs, **kwargs)


def test_split_rejects_bad_input(tokenizer):
    with pytest.raises(WindowError, match="空"):
        split_windows(tokenizer, "")
    with pytest.raises(WindowError, match="str"):
        split_windows(tokenizer, ["明日"])
    with pytest.raises(WindowError, match="split_windows\\(tokenizer, text"):
        split_windows("明日", tokenizer)
    with pytest.raises(WindowError, match="merge_windows|split_windows"):
        merge_windows([[1, 2]], [[1, 2]])


def test_merge_takes_a_models_outputs_back_to_text_positions(tokenizer):
    # the lesson's recipe with a small random BertModel: [windows, L, H] -> [n_tokens, H]
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    bert = BertModel(config).eval()
    w = split_windows(tokenizer, "明日の天気は晴れだ。" * 6, max_length=16, stride=4)
    with torch.no_grad():
        out = bert(input_ids=torch.tensor(w.input_ids), attention_mask=torch.tensor(w.attention_mask))
    merged = merge_windows(w, out.last_hidden_state)
    assert merged.shape == (len(w.ids), 16)
    owners = w.owners()
    for p in (0, 13, len(w.ids) - 1):  # each position is its owner window's vector at 1 + p - start
        k = owners[p]
        np.testing.assert_array_equal(merged[p], out.last_hidden_state[k, 1 + p - w.spans[k][0]].numpy())
    assert merge_windows(w, out.last_hidden_state, how="mean").shape == (len(w.ids), 16)
