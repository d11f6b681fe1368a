"""Tests of jbert_helpers.plots (lessons 04-09, 04-12): padding counts and figures; 04-09's saved ``additive_mask``."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from jbert_helpers.errors import EncodingError, JbertError
from jbert_helpers.plots import padding_counts, plot_padding

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
        ("1100", "整数のリスト"),
        ([[1, 1], 5], "行 1"),
        ([[]], "空"),
        ([[1.0, 1.0, 0.0]], "整数ではありません"),
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


def test_plot_padding_draws_japanese_without_missing_glyphs(recwarn):
    fig = plot_padding({"longest": LONGEST}, row_labels=["明日の天気は晴れだ。", "パソコンが急に動かなくなった。"])
    fig.canvas.draw()
    assert not [w for w in recwarn if "missing from font" in str(w.message)]


# --- figures of issue 12: BERT's blocks (04-02), MeCab → WordPiece (04-04), the mask (04-09), windows (04-10)


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [
        ax.get_title(loc) for ax in fig.axes for loc in ("left", "center")
    ]


def _gids(ax, prefix: str) -> list[str]:
    return [str(p.get_gid()) for p in ax.patches if str(p.get_gid()).startswith(prefix)]


@pytest.mark.parametrize("layers", [12, 4, 24])
def test_bert_architecture_has_one_box_per_layer_and_the_config_numbers(layers):
    from transformers import BertConfig

    from jbert_helpers import plot_bert_architecture

    config = BertConfig(
        num_hidden_layers=layers,
        hidden_size=96,
        num_attention_heads=3,
        intermediate_size=384,
        vocab_size=32000,
        max_position_embeddings=64,
        type_vocab_size=2,
    )
    fig = plot_bert_architecture(config)
    (ax,) = fig.axes
    assert sorted(_gids(ax, "layer:"), key=lambda g: int(g.split(":")[1])) == [
        f"layer:{k}" for k in range(1, layers + 1)
    ]
    assert len(_gids(ax, "embedding:")) == 4  # token, position, segment, sum
    assert len(_gids(ax, "detail:")) == 6  # attention, W^O, add & norm, FFN, add & norm, the frame
    # attention_mask enters every layer's attention: one arrow per layer from the mask's line
    assert sorted(str(t.get_gid()) for t in ax.texts if str(t.get_gid()).startswith("mask:")) == sorted(
        f"mask:{k}" for k in range(1, layers + 1)
    )
    text = "\n".join(_texts(fig))
    for words in (
        "トークン埋め込み\n32,000 × 96",
        "位置埋め込み\n64 × 96",
        "セグメント埋め込み\n2 × 96",
        "3 ヘッド × d_k = 32",
        "FFN: 96 → 384 → 96",
        "GELU",
        f"× {layers} 層",
        "[B, L, 96]",
        "pooler_output\n[B, 96]",
        "LayerNorm",
        "残差",
        "tanh",
        "attention_mask",
        "加算マスク M",
        "$W^O$",
        r"$\mathrm{softmax}(QK^\top/\sqrt{d_k} + M)\,V$",
    ):
        assert words in text, words
    # the same function reads a model's config through .config
    assert len(_gids(plot_bert_architecture(type("M", (), {"config": config})()).axes[0], "layer:")) == layers


def test_gelu_plot_shows_both_gelus_and_their_small_difference():
    import numpy as np

    from jbert_helpers import plot_gelu
    from jbert_helpers.errors import DiagramError

    fig = plot_gelu(x_min=-6.0, x_max=6.0)
    lines = {str(line.get_gid()): line for ax in fig.axes for line in ax.lines if line.get_gid()}
    assert set(lines) == {"gelu:exact", "gelu:tanh", "gelu:difference"}
    x, exact = (np.asarray(v) for v in lines["gelu:exact"].get_data())
    from math import erf, sqrt

    assert np.allclose(exact, [v * 0.5 * (1 + erf(v / sqrt(2))) for v in x])  # x Φ(x), the erf form
    difference = np.asarray(lines["gelu:difference"].get_ydata())
    assert 1e-4 < np.abs(difference).max() < 1e-3  # small, but far above float32 rounding
    assert "5.0e-04" in fig.axes[1].get_title() or "4.7e-04" in fig.axes[1].get_title()
    with pytest.raises(DiagramError, match="x_min < x_max"):
        plot_gelu(x_min=1.0, x_max=1.0)


@pytest.mark.parametrize(("heads", "hidden"), [(12, 768), (3, 96)])
def test_head_split_draws_one_band_and_one_matrix_per_head(heads, hidden):
    from transformers import BertConfig

    from jbert_helpers import plot_head_split
    from jbert_helpers.errors import DiagramError

    config = BertConfig(hidden_size=hidden, num_attention_heads=heads, intermediate_size=4 * hidden)
    fig = plot_head_split(config, seq_len=14)
    (ax,) = fig.axes
    assert _gids(ax, "band:") == [f"band:{k}" for k in range(heads)]
    assert _gids(ax, "head:") == [f"head:{k}" for k in range(heads)]
    for k in range(heads):  # head k keeps band k's colour
        (band,) = [p for p in ax.patches if p.get_gid() == f"band:{k}"]
        (head,) = [p for p in ax.patches if p.get_gid() == f"head:{k}"]
        assert band.get_facecolor() == head.get_facecolor()
    text = "\n".join(_texts(fig))
    d_k = hidden // heads
    for words in (f"[B, L, {hidden}]", f"[B, {heads}, L, {d_k}]", "ヘッド 0", f"ヘッド {heads - 1}", "L = 14"):
        assert words in text, words
    with pytest.raises(DiagramError, match="seq_len"):
        plot_head_split(config, seq_len=0)


def test_bert_architecture_rejects_what_is_not_a_config():
    from jbert_helpers import plot_bert_architecture
    from jbert_helpers.errors import DiagramError

    with pytest.raises(DiagramError, match="bert.config"):
        plot_bert_architecture({"num_hidden_layers": 12})


def test_word_pieces_puts_each_words_tokens_under_it():
    from jbert_helpers import WordAlignment, plot_word_pieces

    a = WordAlignment(
        ["明日", "は", "マシーンラーニング"],
        ["[CLS]", "明日", "は", "マ", "##シーン", "##ラー", "##ニング", "[SEP]"],
        [None, 0, 1, 2, 2, 2, 2, None],
    )
    fig = plot_word_pieces(a, text="明日はマシーンラーニング")
    (ax,) = fig.axes
    boxes = {str(p.get_gid()): p for p in ax.patches}
    assert sorted(g for g in boxes if g.startswith("word:")) == ["word:0", "word:1", "word:2"]
    assert len([g for g in boxes if g.startswith("token:")]) == 8
    for j, w in enumerate(a.word_ids):  # a token lies inside its word's horizontal extent
        if w is None:
            continue
        word, token = boxes[f"word:{w}"], boxes[f"token:{j}"]
        assert word.get_x() - 1e-9 <= token.get_x()
        assert token.get_x() + token.get_width() <= word.get_x() + word.get_width() + 1e-9
        assert token.get_y() < word.get_y()  # and below it
    # [CLS] and [SEP] lie outside every word, left and right of them
    words_left = min(boxes[f"word:{i}"].get_x() for i in range(3))
    words_right = max(boxes[f"word:{i}"].get_x() + boxes[f"word:{i}"].get_width() for i in range(3))
    assert boxes["token:0"].get_x() + boxes["token:0"].get_width() < words_left
    assert boxes["token:7"].get_x() > words_right
    assert boxes["token:4"].get_facecolor() != boxes["token:3"].get_facecolor()  # ## drawn differently
    assert boxes["token:0"].get_facecolor() != boxes["token:1"].get_facecolor()  # so is [CLS]
    text = "\n".join(_texts(fig))
    assert "MeCab" in text and "形態素" in text and "WordPiece" in text and "##シーン" in text
    assert "語 3 個" in text and "トークン 6 個" in text and "特殊トークン 2 個" in text
    assert "明日はマシーンラーニング" in text and "None" in text


def test_word_pieces_draws_the_lessons_alignment_of_a_real_sentence():
    from transformers import BertJapaneseTokenizer

    from jbert_helpers import align_words, plot_word_pieces
    from jbert_helpers.standin import packaged_vocab

    tokenizer = BertJapaneseTokenizer(vocab_file=str(packaged_vocab()), mecab_kwargs={"mecab_dic": "ipadic"})
    a = align_words(tokenizer, "明日は[MASK]を学ぶ。")
    fig = plot_word_pieces(a)
    boxes = [str(p.get_gid()) for p in fig.axes[0].patches]
    assert boxes.count("text") == 1
    assert len([g for g in boxes if g.startswith("token:")]) == len(a.tokens)
    assert len([g for g in boxes if g.startswith("word:")]) == len(a.words)


def test_word_pieces_rejects_what_is_not_an_alignment():
    from jbert_helpers import WordAlignment, plot_word_pieces
    from jbert_helpers.errors import DiagramError

    with pytest.raises(DiagramError, match="align_words"):
        plot_word_pieces(["明日", "は"])
    with pytest.raises(DiagramError, match="word_ids"):
        plot_word_pieces(WordAlignment(["猫", "が"], ["猫", "が"], [0, 5]))
    with pytest.raises(DiagramError, match="word_ids"):
        plot_word_pieces(WordAlignment(["猫", "が"], ["猫", "が", "x"], [0, 1]))
    with pytest.raises(DiagramError, match="空"):
        plot_word_pieces(WordAlignment([], ["[CLS]", "[SEP]"], [None, None]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mask", [FIXED_32, [[1] * 9 + [0] * 2, [1] * 11], [[1, 0]], [[1] * 5, [1] * 5]])
def test_additive_mask_is_what_transformers_adds_in_eager_attention(mask, dtype):
    """04-09's saved function: [B, 1, 1, L], broadcast over the queries = create_bidirectional_mask (eager)."""
    from transformers import BertConfig
    from transformers.masking_utils import create_bidirectional_mask

    from jbert_helpers import additive_mask

    mask = torch.tensor(mask)
    batch, length = mask.shape
    config = BertConfig(attn_implementation="eager")
    theirs = create_bidirectional_mask(
        config=config, inputs_embeds=torch.zeros(batch, length, 8, dtype=dtype), attention_mask=mask
    )
    ours = additive_mask(mask, dtype=dtype)
    assert ours.shape == (batch, 1, 1, length) and ours.dtype == dtype
    if theirs is None:  # no [PAD] anywhere: transformers adds nothing, ours is all zeros
        assert bool(mask.all()) and bool((ours == 0).all())
    else:
        assert torch.equal(ours.expand(batch, 1, length, length), theirs)
    minimum = torch.finfo(dtype).min
    assert [x == minimum for x in ours[0, 0, 0].tolist()] == [m == 0 for m in mask[0].tolist()]
    assert not any(str(x) == "-0.0" for x in ours.flatten().tolist())  # zeros are +0.0, not (1 - 1) * min


@pytest.mark.parametrize(
    ("mask", "kwargs", "words"),
    [
        ([[1, 1, 0]], {}, "テンソル"),  # a list, not a tensor
        (torch.tensor([1, 1, 0]), {}, r"\(3,\)"),  # one sentence without the batch dimension
        (torch.tensor([[2, 11475, 3, 0]]), {}, "0 か 1"),  # input_ids by mistake
        (torch.tensor([[1, 1, 0]]), {"dtype": torch.long}, "浮動小数点型"),
    ],
)
def test_additive_mask_says_what_was_wrong(mask, kwargs, words):
    from jbert_helpers import additive_mask

    with pytest.raises(EncodingError, match=words):
        additive_mask(mask, **kwargs)


def test_attention_mask_figure_shows_the_mask_and_m():
    from jbert_helpers import plot_attention_mask

    tokens = ["[CLS]", "明日", "の", "天気", "は", "晴れ", "だ", "。", "[SEP]", "[PAD]", "[PAD]"]
    fig = plot_attention_mask(LONGEST, tokens, row=0)
    left, right = fig.axes
    np.testing.assert_array_equal(left.images[0].get_array(), np.array(LONGEST))
    keep = right.images[0].get_array()
    assert keep.shape == (11, 11)
    assert keep[:, :9].all() and not keep[:, 9:].any()  # [PAD] columns masked for every query
    assert [t.get_text() for t in right.get_xticklabels()] == tokens
    assert [t.get_text() for t in right.get_yticklabels()] == tokens
    text = "\n".join(_texts(fig)) + "\n".join(t.get_text() for t in right.get_legend().get_texts())
    assert "attention_mask [B, L] = [2, 11]" in text and "文 0 の M (11 × 11)" in text and "[PAD] の列" in text
    # the other sentence: no [PAD], nothing masked
    assert plot_attention_mask(LONGEST, ["x"] * 11, row=1).axes[1].images[0].get_array().all()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"row": 2}, "row=2"), ({"tokens": ["a"]}, "tokens が 1 個"), ({"row_labels": ["a"]}, "row_labels")],
)
def test_attention_mask_figure_rejects_bad_input(kwargs, words):
    from jbert_helpers import plot_attention_mask

    args = {"tokens": ["x"] * 11, **kwargs}
    with pytest.raises(EncodingError, match=words):
        plot_attention_mask(LONGEST, **args)


def test_windows_figure_has_two_bars_per_window_and_the_coverage():
    from jbert_helpers import plot_windows, window_spans

    spans = window_spans(84, 32, 8)
    fig = plot_windows(spans)
    top, bottom = fig.axes
    assert len(_gids(top, "window:")) == len(_gids(top, "kept:")) == 4
    for k, (s, e) in enumerate(spans):
        (bar,) = [p for p in top.patches if p.get_gid() == f"window:{k}"]
        assert (bar.get_x(), bar.get_width()) == (s, e - s)
    kept = sorted((p.get_x(), p.get_x() + p.get_width()) for p in top.patches if str(p.get_gid()).startswith("kept:"))
    assert kept[0][0] == 0 and kept[-1][1] == 84
    assert all(a[1] == b[0] for a, b in zip(kept, kept[1:], strict=False))  # the kept parts tile the text
    (line,) = bottom.lines
    assert max(line.get_ydata()) == 2  # overlaps are in two windows
    assert [t.get_text() for t in top.get_yticklabels()] == ["窓 0", "窓 1", "窓 2", "窓 3"]
    assert "stride=8" in fig._suptitle.get_text() and "4 個の窓" in fig._suptitle.get_text()


def test_new_figures_draw_japanese_without_missing_glyphs(recwarn):
    from transformers import BertConfig

    from jbert_helpers import (
        WordAlignment,
        plot_attention_mask,
        plot_bert_architecture,
        plot_gelu,
        plot_head_split,
        plot_windows,
        plot_word_pieces,
    )

    figs = [
        plot_bert_architecture(BertConfig()),
        plot_gelu(),
        plot_head_split(BertConfig(), seq_len=14),
        plot_word_pieces(WordAlignment(["しよう"], ["[CLS]", "しよ", "##う", "[SEP]"], [None, 0, 0, None])),
        plot_attention_mask(LONGEST, ["明日"] * 11),
        plot_windows([(0, 2)]),
    ]
    for fig in figs:
        fig.canvas.draw()
    assert not [w for w in recwarn if "missing from font" in str(w.message)]


def test_text_report_colours_each_character_by_its_fate_and_puts_tokens_under_their_characters(recwarn):
    from transformers import BertJapaneseTokenizer

    from jbert_helpers import check_text, plot_text_report
    from jbert_helpers.diagrams import FATE_COLORS
    from jbert_helpers.standin import ensure_standin

    tokenizer = BertJapaneseTokenizer.from_pretrained(str(ensure_standin()), mecab_kwargs={"mecab_dic": "ipadic"})
    text = "ｶﾀｶﾅと𠮷\u200bと[SEP]"
    encoding = tokenizer(text, max_length=6, truncation=True)  # [CLS] + 4 tokens + [SEP]
    fig = plot_text_report(check_text(tokenizer, text, encoding))
    fig.canvas.draw()
    patches = {p.get_gid(): p for p in fig.axes[0].patches}
    fates = [mcolors.to_hex(patches[f"char:{i}"].get_facecolor()) for i in range(len(text))]
    expected = ["normalized"] * 4 + ["kept", "unk", "unk", "truncated"] + ["truncated"] * 5
    assert fates == [FATE_COLORS[f] for f in expected]
    tokens = [p for gid, p in sorted(patches.items()) if gid.startswith("token:")]
    assert len(tokens) == len(tokenizer.tokenize(text))
    assert [bool(p.get_hatch()) for p in tokens] == [False] * 4 + [True] * (len(tokens) - 4)  # cut by max_length
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "U+20BB7" in texts and "U+200B" in texts  # no glyph in the font / invisible: the code point
    # the title counts the characters by fate (rewritten and [UNK] characters are not "lost")
    title = fig.axes[0].get_title(loc="left")
    assert title == "13 文字 → トークン 4 個 (文字の行き先: そのまま 1・切り詰め 6・[UNK] 2・NFKC で変わった 4)"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["そのまま残った", "切り詰め (truncated)", "[UNK] になった (unk)", "NFKC で変わった (normalized)"]
    assert not [w for w in recwarn if "missing from font" in str(w.message)]


def test_text_report_refuses_what_it_cannot_draw():
    from jbert_helpers import plot_text_report
    from jbert_helpers.errors import DiagramError

    with pytest.raises(DiagramError, match="check_text"):
        plot_text_report("明日")
