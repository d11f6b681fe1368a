"""Attention maps: one head's weights as a heat map with the tokens on both axes.

Introduced in lesson 04-18. ``BertModel(..., output_attentions=True)`` returns, per layer, a
tensor of shape ``(B, heads, L, L)``: row ``i`` holds how much query token ``i`` attends to
each key token (a softmax, so every row sums to 1). :func:`plot_attention` draws one such
``(L, L)`` matrix with the tokens as axis labels, and says in the title when the weights come
from the stand-in's random weights (so the pattern means nothing). Given the row's
``attention_mask`` (``key_mask``) it marks the ``[PAD]`` key columns, whose weights are exactly 0.

:func:`plot_mask_effect` (lesson 04-18a) puts the scores ``QK^T / sqrt(d_k)`` before the mask
beside the weights after it, so the learner sees which columns the additive mask ``M`` removes.

In transformers 5 a model loaded with the default ``sdpa`` attention returns no weights
(``output.attentions == ()``); load it with ``attn_implementation="eager"`` to get them.

Example::

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> fig = plot_attention(np.full((3, 3), 1 / 3), ["[CLS]", "猫", "[SEP]"], title="例")
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['[CLS]', '猫', '[SEP]']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import numpy as np

from .errors import AttentionPlotError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Appended to the title when the weights come from the stand-in (seeded random weights).
STANDIN_NOTE = "代役モデル (ランダム重み): 模様に意味はありません"

#: Colour of the marks on the masked ([PAD]) key columns: tick labels and the dashed outline.
PAD_MARK_COLOR = "#d62728"


def _as_square(values: object, *, what: str, probabilities: bool) -> np.ndarray:
    """``values`` (a tensor or array-like) as a finite float ``(L, L)`` NumPy matrix, without autograd.

    With ``probabilities`` the entries must also be >= 0 (softmax weights); scores may be negative.
    """
    if hasattr(values, "detach"):  # a torch.Tensor, possibly on a GPU or requiring grad
        values = values.detach().cpu().numpy()
    try:
        matrix = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as e:
        raise AttentionPlotError(
            f"{what}を数値の行列にできません ({type(values).__name__})。"
            "output.attentions[層][文, ヘッド] のような (L, L) のテンソルを渡してください。"
        ) from e
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise AttentionPlotError(
            f"{what}は正方行列 (L, L) を渡してください (渡された形状: {matrix.shape})。"
            "output.attentions[層] は (B, ヘッド数, L, L) なので、[文, ヘッド] で 1 枚を選びます。"
        )
    if not np.all(np.isfinite(matrix)):
        raise AttentionPlotError(
            f"{what}に NaN/inf があります。"
            + (
                "softmax の出力 (output.attentions) を渡してください。"
                if probabilities
                else "マスクを足す前のスコア QK^T/√d_k を渡してください (マスクを足した後は -3.4e38 が入ります)。"
            )
        )
    if probabilities and np.any(matrix < 0):
        raise AttentionPlotError(f"{what}に負の値があります: softmax の出力 (output.attentions) を渡してください。")
    return matrix


def _as_matrix(weights: object) -> np.ndarray:
    """Attention weights (softmax rows) as a float NumPy matrix; see :func:`_as_square`."""
    return _as_square(weights, what="アテンションの重み", probabilities=True)


def _key_mask(key_mask: object, size: int) -> np.ndarray:
    """The row's ``attention_mask`` (1 = real token, 0 = [PAD]) as a bool vector of length ``size``."""
    if hasattr(key_mask, "detach"):
        key_mask = key_mask.detach().cpu().numpy()
    mask = np.asarray(key_mask)
    if mask.ndim != 1 or mask.shape[0] != size:
        raise AttentionPlotError(
            f"key_mask は長さ {size} の 0/1 の列を渡してください (渡された形状: {mask.shape})。"
            "例: encoding['attention_mask'][文] (図にした文の行)。"
        )
    if not np.isin(mask, (0, 1)).all():
        raise AttentionPlotError(
            "key_mask は attention_mask の 1 行 (実トークン 1、[PAD] 0) を渡してください"
            f" (0/1 以外の値: {sorted(set(mask[~np.isin(mask, (0, 1))].tolist()))[:3]})。"
        )
    return mask.astype(bool)


def _mark_masked_keys(ax: Axes, real: np.ndarray, *, note: str) -> None:
    """Colour the tick labels of the masked key columns, outline those columns (dashed), add ``note``
    to the x label (a second line, so that tight_layout keeps it inside the figure)."""
    from matplotlib.patches import Rectangle

    size = len(real)
    for j, tick in enumerate(ax.get_xticklabels()):
        if not real[j]:
            tick.set_color(PAD_MARK_COLOR)
    for column in np.flatnonzero(~real):
        ax.add_patch(
            Rectangle(
                (column - 0.5, -0.5),
                1.0,
                float(size),
                fill=False,
                edgecolor=PAD_MARK_COLOR,
                linestyle="--",
                linewidth=1.5,
            )
        )
    ax.set_xlabel(f"{ax.get_xlabel()}\n赤い破線: {note}")


def plot_attention(
    weights: object,
    tokens: Sequence[str],
    *,
    title: str = "",
    standin: bool = False,
    key_mask: object | None = None,
    ax: Axes | None = None,
    cmap: str = "viridis",
) -> Figure:
    """Draw one head's attention matrix (rows: queries, columns: keys) with ``tokens`` as labels.

    ``weights`` is an ``(L, L)`` tensor or array (e.g. ``output.attentions[11][0, 0]``),
    ``tokens`` the ``L`` token strings. With ``standin=True`` the title says that the weights
    are the stand-in's random ones. ``key_mask`` (the row's ``attention_mask``) marks the
    ``[PAD]`` key columns: red tick labels and a dashed outline. Draws into ``ax`` if given, else
    into a new figure; returns the figure. Raises :class:`AttentionPlotError` when the shapes do
    not fit.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = plot_attention([[1.0, 0.0], [0.5, 0.5]], ["a", "b"], standin=True)
    >>> STANDIN_NOTE in fig.axes[0].get_title()
    True
    >>> fig = plot_attention([[1.0, 0.0], [1.0, 0.0]], ["a", "[PAD]"], key_mask=[1, 0])
    >>> [t.get_color() for t in fig.axes[0].get_xticklabels()] == ["black", PAD_MARK_COLOR]
    True
    """
    matrix = _as_matrix(weights)
    labels = [str(t) for t in tokens]
    if len(labels) != matrix.shape[0]:
        raise AttentionPlotError(
            f"トークンが {len(labels)} 個ですが、重みは {matrix.shape[0]}×{matrix.shape[1]} です。"
            "重みを切り出した範囲 (例: [:n, :n]) と同じ範囲のトークンを渡してください。"
        )
    real = None if key_mask is None else _key_mask(key_mask, len(labels))
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (日本語フォントを登録する: 豆腐 □ にしない)

    if ax is None:
        size = max(4.0, 0.38 * len(labels) + 2.0)
        fig, ax = plt.subplots(figsize=(size + 1.0, size))
    else:
        fig = cast("Figure", ax.figure)  # the axes may sit in a SubFigure; we hand back the figure it draws in
    image = ax.imshow(matrix, cmap=cmap, vmin=0.0, vmax=max(float(matrix.max()), 1e-12))
    positions = np.arange(len(labels))
    ax.set_xticks(positions, labels, rotation=90)
    ax.set_yticks(positions, labels)
    ax.set_xlabel("キー (アテンションを向けられる側のトークン)")
    ax.set_ylabel("クエリ (アテンションを向ける側のトークン)")
    full_title = "\n".join(part for part in (title, STANDIN_NOTE if standin else "") if part)
    ax.set_title(full_title)
    fig.colorbar(image, ax=ax, label="アテンションの重み (各行の和 = 1)")
    if real is not None and not real.all():
        _mark_masked_keys(ax, real, note="[PAD] のキーの列 (重み = 0)")
    fig.tight_layout()
    return fig


def plot_mask_effect(
    scores: object,
    weights: object,
    tokens: Sequence[str],
    *,
    key_mask: object,
    title: str = "",
    standin: bool = False,
) -> Figure:
    """Two panels for one head: the scores ``QK^T/sqrt(d_k)`` before the mask, the weights after it.

    ``scores`` is the ``(L, L)`` matrix before the additive mask ``M`` (any sign), ``weights`` the
    ``(L, L)`` ``softmax(scores + M)``, ``tokens`` the ``L`` tokens (``[PAD]`` included) and
    ``key_mask`` the row's ``attention_mask``. On the left the masked key columns are outlined
    (``M`` adds a very large negative number there); on the right the same columns are 0.
    With ``standin=True`` the figure's title says the weights are random. Returns the figure.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = plot_mask_effect([[0.5, -1.0], [2.0, 0.1]], [[1.0, 0.0], [1.0, 0.0]], ["a", "[PAD]"], key_mask=[1, 0])
    >>> "マスク前" in fig.axes[0].get_title(), fig.axes[1].get_title()
    (True, 'softmax(スコア + M) = 重み A')
    """
    score_matrix = _as_square(scores, what="スコア", probabilities=False)
    weight_matrix = _as_matrix(weights)
    if score_matrix.shape != weight_matrix.shape:
        raise AttentionPlotError(
            f"スコア {score_matrix.shape} と重み {weight_matrix.shape} の形が違います。同じ文・同じヘッドの (L, L) を渡してください。"
        )
    labels = [str(t) for t in tokens]
    if len(labels) != score_matrix.shape[0]:
        raise AttentionPlotError(
            f"トークンが {len(labels)} 個ですが、スコアは {score_matrix.shape[0]}×{score_matrix.shape[1]} です。"
            "[PAD] も含めて、行列と同じ数のトークンを渡してください。"
        )
    real = _key_mask(key_mask, len(labels))
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (日本語フォントを登録する: 豆腐 □ にしない)

    size = max(4.0, 0.38 * len(labels) + 2.0)
    fig, (left, right) = plt.subplots(1, 2, figsize=(2 * size + 2.0, size + 1.0))
    bound = max(float(np.abs(score_matrix).max()), 1e-12)
    image = left.imshow(score_matrix, cmap="coolwarm", vmin=-bound, vmax=bound)
    positions = np.arange(len(labels))
    left.set_xticks(positions, labels, rotation=90)
    left.set_yticks(positions, labels)
    left.set_xlabel("キー")
    left.set_ylabel("クエリ")
    left.set_title(r"マスク前のスコア $QK^\top/\sqrt{d_k}$")
    fig.colorbar(image, ax=left, label="スコア (正でも負でもよい)")
    if not real.all():
        _mark_masked_keys(left, real, note=r"$M$ で $-3.4\times10^{38}$ を足す列")
    plot_attention(weight_matrix, labels, key_mask=real.astype(int), ax=right)
    right.set_xlabel("キー\n赤い破線: [PAD] のキーの列 (重み = 0)" if not real.all() else "キー")
    right.set_ylabel("クエリ")
    right.set_title("softmax(スコア + M) = 重み A")
    full_title = "\n".join(part for part in (title, STANDIN_NOTE if standin else "") if part)
    if full_title:
        fig.suptitle(full_title)
    fig.tight_layout()
    return fig
