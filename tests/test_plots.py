"""Tests of jbert_helpers.plots (lesson 04-12): padding counts, the padding figure, attention cost."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from jbert_helpers.errors import EncodingError, JbertError
from jbert_helpers.plots import attention_cost, attention_cost_table, padding_counts, plot_padding

# The 04-12 batch ("明日の天気は晴れだ。" has effective length 9, "パソコンが急に動かなくなった。" 11).
LONGEST = [[1] * 9 + [0] * 2, [1] * 11]
FIXED_32 = [[1] * 9 + [0] * 23, [1] * 11 + [0] * 21]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_padding_counts_lists_tensors_arrays_agree():
    expected = [(9, 2), (11, 0)]
    assert padding_counts(LONGEST) == expected
    assert padding_counts(torch.tensor(LONGEST)) == expected
    assert padding_counts(np.array(LONGEST)) == expected


def test_padding_counts_one_sentence():
    assert padding_counts([1, 1, 1, 0]) == [(3, 1)]


@pytest.mark.parametrize(
    ("mask", "words"),
    [
        ([], "空"),
        ([[1, 1, 0], [1, 1]], "そろっていません"),  # ragged: not a padded batch
        ([[1, 1, 2]], "0 か 1"),  # input_ids passed by mistake
        ([[2, 11475, 3, 0]], "attention_mask を渡して"),
        (torch.ones(2, 3), "dtype"),  # float mask
        (np.ones((2, 3)), "dtype"),
        ("1100", "リストのリスト"),
        ([[1, 1], 5], "行 1"),
        ([[]], "空"),
        ([[1.0, 1.0, 0.0]], "0 か 1"),
    ],
)
def test_padding_counts_rejects_bad_masks(mask, words):
    with pytest.raises(EncodingError, match=words):
        padding_counts(mask)


def test_plot_padding_has_one_panel_per_setting_and_two_bars_per_row():
    fig = plot_padding({"max_length=32": FIXED_32, "longest": LONGEST}, row_labels=["文 0", "文 1"])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    for ax, length in zip(fig.axes, (32, 11), strict=True):
        assert len(ax.patches) == 4  # 2 rows x (real, [PAD])
        widths = sorted(p.get_width() for p in ax.patches)
        # real 9 and 11; [PAD] length-9 and length-11
        assert widths == sorted([9, 11, length - 9, length - 11])
        assert ax.get_xlim() == (0, length)
        assert [t.get_text() for t in ax.get_yticklabels()] == ["文 0", "文 1"]
    assert "L=32" in fig.axes[0].get_title() and "69%" in fig.axes[0].get_title()  # 44 / 64
    assert "L=11" in fig.axes[1].get_title() and "9%" in fig.axes[1].get_title()  # 2 / 22


def test_plot_padding_accepts_tensors_and_default_labels():
    fig = plot_padding({"longest": torch.tensor(LONGEST)})
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["行 0", "行 1"]


@pytest.mark.parametrize(
    ("masks", "kwargs", "words"),
    [
        ({}, {}, "1 つ以上"),
        ([LONGEST], {}, "辞書"),
        ({"a": LONGEST, "b": [[1, 1]]}, {}, "行数"),
        ({"a": LONGEST}, {"row_labels": ["only one"]}, "row_labels"),
        ({"a": [[1, 0], [1]]}, {}, "a: 行の長さ"),
    ],
)
def test_plot_padding_rejects_bad_input(masks, kwargs, words):
    with pytest.raises(JbertError, match=words):
        plot_padding(masks, **kwargs)


def test_attention_cost_is_batch_times_length_squared_times_hidden():
    # 12 heads of width 64: 12 * 11 * 11 * 64 multiply-adds for Q K^T in one layer
    assert attention_cost(11, 768) == 12 * 11 * 11 * 64
    assert attention_cost(512, 768, batch_size=2) == 2 * 512 * 512 * 768
    assert attention_cost(22) == 4 * attention_cost(11)  # doubling L quadruples the cost


@pytest.mark.parametrize("bad", [0, -1, 1.5, "11", True, None])
def test_attention_cost_rejects_non_positive_or_non_int(bad):
    with pytest.raises(EncodingError, match="1 以上の整数"):
        attention_cost(bad)
    with pytest.raises(EncodingError, match="hidden_size"):
        attention_cost(11, bad)


def test_attention_cost_table_ratios_and_text():
    table = attention_cost_table(
        {"max_length=512": 512, "max_length=32": 32, "longest": 11}, hidden_size=768, batch_size=2, baseline="longest"
    )
    ratios = {r.label: round(r.ratio, 1) for r in table.rows}
    assert ratios == {"max_length=512": round(512**2 / 121, 1), "max_length=32": round(1024 / 121, 1), "longest": 1.0}
    text = str(table)
    assert "402,653,184" in text  # 2 * 512^2 * 768
    assert "185,856" in text  # 2 * 11^2 * 768
    assert "longest を 1" in text
    assert len(text.splitlines()) == 2 + 3


def test_attention_cost_table_defaults_to_shortest_baseline():
    table = attention_cost_table({"long": 20, "short": 10})
    assert table.baseline == "short"
    assert [r.ratio for r in table.rows] == [4.0, 1.0]


@pytest.mark.parametrize(
    ("lengths", "kwargs", "words"),
    [({}, {}, "1 つ以上"), ({"a": 3}, {"baseline": "b"}, "baseline"), ({"a": 0}, {}, "seq_len")],
)
def test_attention_cost_table_rejects_bad_input(lengths, kwargs, words):
    with pytest.raises(EncodingError, match=words):
        attention_cost_table(lengths, **kwargs)


def test_plot_padding_draws_japanese_without_missing_glyphs(recwarn):
    fig = plot_padding({"longest": LONGEST}, row_labels=["明日の天気は晴れだ。", "パソコンが急に動かなくなった。"])
    fig.canvas.draw()
    assert not [w for w in recwarn if "missing from font" in str(w.message)]
