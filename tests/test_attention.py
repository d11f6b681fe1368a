"""Tests of jbert_helpers.attention (lessons 04-18, 04-18a): the attention-map figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from jbert_helpers.attention import PAD_MARK_COLOR, STANDIN_NOTE, AttentionPlotError, plot_attention, plot_mask_effect
from jbert_helpers.errors import JbertError

TOKENS = ["[CLS]", "明日", "は", "勉強", "[SEP]"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _softmax_rows(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(n, n, generator=g), dim=-1)


def test_tokens_label_both_axes_in_order() -> None:
    fig = plot_attention(_softmax_rows(5), TOKENS, title="層 1・ヘッド 1")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == TOKENS
    assert [t.get_text() for t in ax.get_yticklabels()] == TOKENS
    assert ax.get_title() == "層 1・ヘッド 1"
    assert "キー" in ax.get_xlabel() and "クエリ" in ax.get_ylabel()


def test_the_image_is_the_matrix_rows_queries_columns_keys() -> None:
    w = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5], [0.0, 0.0, 1.0]])
    fig = plot_attention(w, ["a", "b", "c"])
    shown = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_allclose(shown, w)
    assert shown[1, 2] == 0.5  # row = query "b", column = key "c"


def test_standin_note_is_added_to_the_title() -> None:
    fig = plot_attention(_softmax_rows(5), TOKENS, title="文 0", standin=True)
    assert fig.axes[0].get_title() == f"文 0\n{STANDIN_NOTE}"
    assert "ランダム" in STANDIN_NOTE
    fig2 = plot_attention(_softmax_rows(5), TOKENS, standin=False)
    assert STANDIN_NOTE not in fig2.axes[0].get_title()


def test_a_tensor_that_requires_grad_is_accepted() -> None:
    w = _softmax_rows(5).requires_grad_(True) * 1.0
    fig = plot_attention(w, TOKENS)
    np.testing.assert_allclose(np.asarray(fig.axes[0].images[0].get_array()), w.detach().numpy(), rtol=1e-6)


def test_draws_into_a_given_axes() -> None:
    fig, (left, right) = plt.subplots(1, 2)
    out = plot_attention(_softmax_rows(5), TOKENS, ax=right)
    assert out is fig
    assert len(right.images) == 1 and len(left.images) == 0


def test_japanese_labels_have_a_font_with_the_glyphs() -> None:
    from matplotlib import font_manager

    fig = plot_attention(_softmax_rows(5), TOKENS)
    label = fig.axes[0].get_xticklabels()[1]
    path = font_manager.findfont(label.get_fontproperties(), fallback_to_default=False)
    from matplotlib.ft2font import FT2Font

    font = FT2Font(path)
    assert all(font.get_char_index(ord(ch)) != 0 for ch in "明日は勉強")  # no tofu


@pytest.mark.parametrize(
    ("weights", "tokens", "message"),
    [
        (np.ones((2, 5, 5)) / 5, TOKENS, "正方行列"),
        (np.ones((5, 4)) / 4, TOKENS, "正方行列"),
        (np.ones((4, 4)) / 4, TOKENS, "トークンが 5 個"),
        (-np.ones((5, 5)), TOKENS, "負の値"),
        (np.full((5, 5), np.nan), TOKENS, "NaN"),
        ([["a", "b"], ["c", "d"]], ["x", "y"], "数値の行列"),
    ],
)
def test_bad_input_raises_a_clear_error(weights: object, tokens: list[str], message: str) -> None:
    with pytest.raises(AttentionPlotError, match=message) as info:
        plot_attention(weights, tokens)
    assert isinstance(info.value, JbertError) and isinstance(info.value, ValueError)


PADDED = ["[CLS]", "明日", "は", "[SEP]", "[PAD]", "[PAD]"]
MASK = [1, 1, 1, 1, 0, 0]


def _masked(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(scores, softmax(scores + M)) for MASK, M built as transformers' eager_mask builds it."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(6, 6, generator=g)
    m = torch.where(torch.tensor(MASK)[None, :] == 1, 0.0, torch.finfo(torch.float32).min)
    return scores, torch.softmax(scores + m, dim=-1)


def _dashed_columns(ax: plt.Axes) -> list[float]:
    """x of the left edge of every dashed outline drawn on ``ax``."""
    return sorted(p.get_x() for p in ax.patches if p.get_linestyle() == "--")


def test_key_mask_marks_exactly_the_pad_columns() -> None:
    _, weights = _masked()
    fig = plot_attention(weights, PADDED, key_mask=torch.tensor(MASK))
    ax = fig.axes[0]
    colours = [t.get_color() for t in ax.get_xticklabels()]
    assert [c == PAD_MARK_COLOR for c in colours] == [False, False, False, False, True, True]
    assert _dashed_columns(ax) == [3.5, 4.5]  # columns 4 and 5, each from j - 0.5
    assert "[PAD]" in ax.get_xlabel()


def test_without_pad_nothing_is_marked() -> None:
    fig = plot_attention(_softmax_rows(5), TOKENS, key_mask=[1, 1, 1, 1, 1])
    ax = fig.axes[0]
    assert _dashed_columns(ax) == [] and PAD_MARK_COLOR not in [t.get_color() for t in ax.get_xticklabels()]


def test_mask_effect_shows_scores_left_and_weights_right() -> None:
    scores, weights = _masked()
    fig = plot_mask_effect(scores, weights, PADDED, key_mask=MASK, title="文 0", standin=True)
    left, right = fig.axes[:2]  # then the two colour bars
    np.testing.assert_allclose(np.asarray(left.images[0].get_array()), scores.numpy(), rtol=1e-6)
    shown = np.asarray(right.images[0].get_array())
    np.testing.assert_allclose(shown, weights.numpy(), rtol=1e-6)
    assert (shown[:, 4:] == 0).all() and (shown[:, :4] > 0).all()
    assert _dashed_columns(left) == _dashed_columns(right) == [3.5, 4.5]
    assert "マスク前" in left.get_title() and "softmax" in right.get_title()
    assert fig._suptitle is not None and fig._suptitle.get_text() == f"文 0\n{STANDIN_NOTE}"
    lo, hi = left.images[0].get_clim()
    assert lo == -hi and hi == pytest.approx(float(scores.abs().max()))  # diverging scale centred on 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key_mask": [1, 1, 1, 1, 0]}, "長さ 6"),
        ({"key_mask": [1, 1, 1, 1, 0, 2]}, "0/1 以外"),
        ({"scores": np.zeros((5, 5))}, "形が違います"),
        ({"scores": np.full((6, 6), -np.inf)}, "マスクを足す前のスコア"),
        ({"tokens": PADDED[:5]}, "トークンが 5 個"),
    ],
)
def test_mask_effect_bad_input_raises_a_clear_error(kwargs: dict, message: str) -> None:
    scores, weights = _masked()
    args = {"scores": scores, "weights": weights, "tokens": PADDED, "key_mask": MASK} | kwargs
    with pytest.raises(AttentionPlotError, match=message):
        plot_mask_effect(args.pop("scores"), args.pop("weights"), args.pop("tokens"), **args)


# ---- the encoder lesson 04-18a saves (jbert_helpers.saved): self_attention, encoder_layer, bert_encoder ----


def _tiny_bert(seed: int, **config: object):
    """A small random BertModel (eager, so it also returns its attention weights), in eval mode."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    values = {"vocab_size": 50, "hidden_size": 48, "num_hidden_layers": 3, "num_attention_heads": 4}
    values.update(config)
    cfg = BertConfig(**values, intermediate_size=96, max_position_embeddings=32)
    cfg._attn_implementation = "eager"
    return BertModel(cfg).eval()


def _batch(seed: int, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """input_ids, token_type_ids, attention_mask of right-padded rows with the given valid lengths."""
    g = torch.Generator().manual_seed(seed)
    L = max(lengths)
    ids = torch.randint(5, 50, (len(lengths), L), generator=g)
    mask = (torch.arange(L)[None, :] < torch.tensor(lengths)[:, None]).long()
    tt = (torch.arange(L)[None, :] >= L // 2).long() * mask
    return ids * mask, tt, mask


@pytest.mark.parametrize(("seed", "lengths"), [(0, [5, 3]), (1, [7]), (2, [4, 4, 1]), (3, [6, 2, 5, 6])])
def test_bert_encoder_matches_the_model_on_random_models_and_batches(seed: int, lengths: list[int]) -> None:
    from jbert_helpers import bert_encoder

    bert = _tiny_bert(seed)
    ids, tt, mask = _batch(seed, lengths)
    with torch.no_grad():
        out = bert(input_ids=ids, token_type_ids=tt, attention_mask=mask, output_hidden_states=True)
        last, pooled = bert_encoder(out.hidden_states[0], bert, mask)
    assert torch.allclose(last, out.last_hidden_state, atol=1e-5)
    assert torch.allclose(pooled, out.pooler_output, atol=1e-5)


def test_encoder_layer_is_one_layer_and_self_attention_is_sdpa_with_the_boolean_mask() -> None:
    import torch.nn.functional as F

    from jbert_helpers import encoder_layer, self_attention

    bert = _tiny_bert(4)
    ids, tt, mask = _batch(4, [6, 4])
    M = torch.where(mask[:, None, None, :] == 1, 0.0, torch.finfo(torch.float32).min)
    with torch.no_grad():
        hs = bert(input_ids=ids, token_type_ids=tt, attention_mask=mask, output_hidden_states=True).hidden_states
        for k, layer in enumerate(bert.encoder.layer):
            assert torch.allclose(encoder_layer(hs[k], layer, M), hs[k + 1], atol=1e-5)
        sa = bert.encoder.layer[0].attention.self
        B, L, H = hs[0].shape
        q, k_, v = (
            (hs[0] @ m.weight.T + m.bias).view(B, L, 4, H // 4).transpose(1, 2) for m in (sa.query, sa.key, sa.value)
        )
        sdpa = F.scaled_dot_product_attention(q, k_, v, attn_mask=(mask == 1)[:, None, None, :])
        context = self_attention(hs[0], bert.encoder.layer[0], M)
    assert context.shape == (B, L, H)
    assert torch.allclose(context, sdpa.transpose(1, 2).reshape(B, L, H), atol=1e-5)
    # a mistake is seen: without the mask, the padded row differs
    with torch.no_grad():
        unmasked = encoder_layer(hs[0], bert.encoder.layer[0], torch.zeros_like(M))
    assert not torch.allclose(unmasked[1], hs[1][1], atol=1e-5)


@pytest.mark.parametrize(
    ("shape", "mask_shape", "message"),
    [
        ((5, 48), (1, 5), r"x0 は \[B, L, 48\].*\(x0: \(5, 48\)"),
        ((1, 5, 32), (1, 5), "x0: \\(1, 5, 32\\)"),
        ((2, 5, 48), (2, 4), "attention_mask: \\(2, 4\\)"),
    ],
)
def test_bert_encoder_says_which_shape_is_wrong(shape: tuple, mask_shape: tuple, message: str) -> None:
    from jbert_helpers import bert_encoder

    with pytest.raises(ValueError, match=message):
        bert_encoder(torch.zeros(shape), _tiny_bert(0), torch.ones(mask_shape, dtype=torch.long))


def test_bert_encoder_needs_the_pooler() -> None:
    from transformers import BertConfig, BertModel

    from jbert_helpers import bert_encoder

    bert = BertModel(
        BertConfig(vocab_size=50, hidden_size=48, num_hidden_layers=1, num_attention_heads=4), add_pooling_layer=False
    )
    with pytest.raises(ValueError, match="pooler のないモデル"):
        bert_encoder(torch.zeros(1, 3, 48), bert, torch.ones(1, 3, dtype=torch.long))
