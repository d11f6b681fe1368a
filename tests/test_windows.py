"""Tests of lesson 04-10's saved functions (overlapping windows over a long text and merging back):
``window_spans``, ``split_windows``, ``max_context_window``, ``merge_windows`` (jbert_helpers.saved)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import BertJapaneseTokenizer, BertTokenizerFast

from jbert_helpers import WindowError, max_context_window, merge_windows, split_windows, window_spans
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
    assert window_spans(1, 3, 0) == [(0, 1)]


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
        ((0, 12, 2), "n_tokens"),
        ((-1, 12, 2), "n_tokens"),
        ((10, 12, 1.5), "stride"),
        ((10, True, 1), "max_length"),
    ],
)
def test_spans_reject_bad_arguments(args, words):
    with pytest.raises(WindowError, match=words):
        window_spans(*args)


def test_split_windows_rows_are_cls_window_sep(tokenizer):
    text = "明日の天気は晴れだ。" * 12
    ids = tokenizer.encode(text, add_special_tokens=False)
    rows = split_windows(ids, tokenizer.cls_token_id, tokenizer.sep_token_id, max_length=32, stride=8)
    assert [len(r) for r in rows] == [32, 32, 32, 20]
    for row, (s, e) in zip(rows, window_spans(len(ids), 32, 8), strict=True):
        assert row == [tokenizer.cls_token_id, *ids[s:e], tokenizer.sep_token_id]
    # the library's own encoding of the first 30 tokens is the first window
    assert rows[0] == tokenizer(text, max_length=32, truncation=True)["input_ids"]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(k=st.integers(1, 25), max_length=st.integers(3, 70), data=st.data())
def test_windows_are_the_fast_tokenizers_overflowing_rows(tokenizer, k, max_length, data):
    """The lesson's comparison: a fast tokenizer on the same vocab makes the same windows with `stride`."""
    stride = data.draw(st.integers(0, max_length - 3))
    fast = BertTokenizerFast(
        vocab=tokenizer.vocab, do_lower_case=False, tokenize_chinese_chars=False, strip_accents=False
    )
    text = "パソコンが急に動かなくなった。" * k
    words = tokenizer.word_tokenizer.tokenize(text)
    ids = tokenizer.encode(text, add_special_tokens=False)
    lib = fast(
        words,
        is_split_into_words=True,
        max_length=max_length,
        truncation=True,
        stride=stride,
        return_overflowing_tokens=True,
    )
    assert lib["input_ids"] == split_windows(ids, tokenizer.cls_token_id, tokenizer.sep_token_id, max_length, stride)


def test_library_stride_gives_no_windows_for_the_slow_tokenizer(tokenizer):
    # measured with transformers 5.24: one row, and the cut tokens plus `stride` tokens before them
    text = "明日の天気は晴れだ。" * 12  # 84 tokens
    enc = tokenizer(text, max_length=32, truncation=True, stride=8, return_overflowing_tokens=True)
    assert len(enc["input_ids"]) == 32 and isinstance(enc["input_ids"][0], int)
    assert len(enc["overflowing_tokens"]) == 84 - 30 + 8


@settings(max_examples=60, deadline=None, derandomize=True)
@given(ids=st.lists(st.integers(5, 30000), min_size=1, max_size=200), max_length=st.integers(3, 50), data=st.data())
def test_merge_of_split_gives_the_ids_back(tokenizer, ids, max_length, data):
    stride = data.draw(st.integers(0, max_length - 3))
    batch = tokenizer.pad({"input_ids": split_windows(ids, 2, 3, max_length, stride)}, return_tensors="pt")
    spans = window_spans(len(ids), max_length, stride)
    assert merge_windows(batch["input_ids"], spans).tolist() == ids
    assert merge_windows(batch["input_ids"], spans, how="mean").tolist() == ids


def test_central_takes_the_window_with_more_context():
    spans = [(0, 6), (3, 8)]
    # position 3: 3 left / 2 right in window 0 (min 2), 0 left in window 1 -> window 0
    # position 4: min 1 in both; window 0 is longer (+0.01 per token, the run_squad.py tie-break) -> window 0
    # position 5: 0 right in window 0, 2 left / 2 right in window 1 -> window 1
    assert [max_context_window(spans, p) for p in range(8)] == [0, 0, 0, 0, 0, 1, 1, 1]
    outputs = torch.tensor([[[k, k]] * 8 for k in (10, 20)], dtype=torch.float)  # window k outputs k everywhere
    assert merge_windows(outputs, spans).tolist() == [[10, 10]] * 5 + [[20, 20]] * 3
    assert merge_windows(outputs, spans, how="mean")[:, 0].tolist() == [10, 10, 10, 15, 15, 15, 20, 20]


def test_length_term_only_matters_against_a_shorter_window():
    """The lesson's c30 claim: between two full windows the 0.01·length term cancels (the switch is at the
    middle of the overlap); against the short last window it moves the switch by up to 3 positions."""
    full = window_spans(84, 32, 8)[:3]  # three windows of 30
    assert [max_context_window(full, p) for p in range(22, 30)] == [0] * 4 + [1] * 4
    spans = window_spans(560, 512, 128)
    assert [max_context_window(spans, p) for p in range(444, 450)] == [0, 0, 0, 0, 1, 1]


def test_max_context_window_rejects_a_position_outside_the_windows():
    with pytest.raises(WindowError, match="どの窓にも"):
        max_context_window([(0, 3)], 5)


@pytest.mark.parametrize(
    ("outputs", "kwargs", "words"),
    [
        (torch.zeros(1, 8), {}, "窓の数"),
        (torch.zeros(2, 5), {}, "系列長"),
        (torch.zeros(2), {}, "形"),
        ([[0] * 8] * 2, {}, "テンソル"),
        (torch.zeros(2, 8), {"how": "max"}, "central"),
    ],
)
def test_merge_rejects_outputs_that_do_not_fit(outputs, kwargs, words):
    with pytest.raises(WindowError, match=words):
        merge_windows(outputs, [(0, 6), (3, 8)], **kwargs)


def test_split_rejects_bad_input(tokenizer):
    with pytest.raises(WindowError, match="1 個以上"):
        split_windows([], 2, 3)
    with pytest.raises(WindowError, match="add_special_tokens=False"):
        split_windows(tokenizer.tokenize("明日"), 2, 3)  # tokens, not ids
    with pytest.raises(WindowError, match="int"):
        split_windows("明日", 2, 3)  # type: ignore[arg-type]


def test_merge_takes_a_models_outputs_back_to_text_positions(tokenizer):
    # the lesson's recipe with a small random BertModel: [windows, L, H] -> [n_tokens, H]
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    bert = BertModel(config).eval()
    ids = tokenizer.encode("明日の天気は晴れだ。" * 6, add_special_tokens=False)
    spans = window_spans(len(ids), 16, 4)
    batch = tokenizer.pad({"input_ids": split_windows(ids, 2, 3, 16, 4)}, return_tensors="pt")
    with torch.no_grad():
        out = bert(**batch)
    merged = merge_windows(out.last_hidden_state, spans)
    assert merged.shape == (len(ids), 16)
    for p in (0, 13, len(ids) - 1):  # each position is its owner window's vector at 1 + p - start
        k = max_context_window(spans, p)
        assert torch.equal(merged[p], out.last_hidden_state[k, 1 + p - spans[k][0]])
    assert merge_windows(out.last_hidden_state, spans, how="mean").shape == (len(ids), 16)


def test_plot_windows_rejects_what_is_not_window_spans():
    from jbert_helpers import plot_windows

    for bad in ("明日", [], [(2, 5)], [[0, 3]]):
        with pytest.raises(WindowError, match="window_spans"):
            plot_windows(bad)  # type: ignore[arg-type]


def test_plot_windows_draws_a_window_that_owns_no_position():
    from jbert_helpers import plot_windows

    spans = window_spans(12, 12, 9)  # step 1: the middle windows lose every position to a neighbour
    fig = plot_windows(spans)
    assert len([p for p in fig.axes[0].patches if str(p.get_gid()).startswith("window:")]) == len(spans)
