"""Attention maps: one head's weights as a heat map with the tokens on both axes.

Introduced in lesson 04-18. ``BertModel(..., output_attentions=True)`` returns, per layer, a
tensor of shape ``(B, heads, L, L)``: row ``i`` holds how much query token ``i`` attends to
each key token (a softmax, so every row sums to 1). :func:`plot_attention` draws one such
``(L, L)`` matrix with the tokens as axis labels, and says in the title when the weights come
from the stand-in's random weights (so the pattern means nothing).

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
from typing import TYPE_CHECKING

import numpy as np

from .errors import AttentionPlotError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Appended to the title when the weights come from the stand-in (seeded random weights).
STANDIN_NOTE = "代役モデル (ランダム重み): 模様に意味はありません"


def _as_matrix(weights: object) -> np.ndarray:
    """``weights`` (a tensor or array-like) as a float NumPy matrix, without touching autograd."""
    if hasattr(weights, "detach"):  # a torch.Tensor, possibly on a GPU or requiring grad
        weights = weights.detach().cpu().numpy()
    try:
        matrix = np.asarray(weights, dtype=float)
    except (TypeError, ValueError) as e:
        raise AttentionPlotError(
            f"注意の重みを数値の行列にできません ({type(weights).__name__})。"
            "output.attentions[層][文, ヘッド] のような (L, L) のテンソルを渡してください。"
        ) from e
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise AttentionPlotError(
            f"注意の重みは正方行列 (L, L) を渡してください (渡された形状: {matrix.shape})。"
            "output.attentions[層] は (B, ヘッド数, L, L) なので、[文, ヘッド] で 1 枚を選びます。"
        )
    if not np.all(np.isfinite(matrix)) or np.any(matrix < 0):
        raise AttentionPlotError(
            "注意の重みに負の値か NaN/inf があります: softmax の出力 (output.attentions) を渡してください。"
        )
    return matrix


def plot_attention(
    weights: object,
    tokens: Sequence[str],
    *,
    title: str = "",
    standin: bool = False,
    ax: Axes | None = None,
    cmap: str = "viridis",
) -> Figure:
    """Draw one head's attention matrix (rows: queries, columns: keys) with ``tokens`` as labels.

    ``weights`` is an ``(L, L)`` tensor or array (e.g. ``output.attentions[11][0, 0, :n, :n]``),
    ``tokens`` the ``L`` token strings. With ``standin=True`` the title says that the weights
    are the stand-in's random ones. Draws into ``ax`` if given, else into a new figure; returns
    the figure. Raises :class:`AttentionPlotError` when the shapes do not fit.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = plot_attention([[1.0, 0.0], [0.5, 0.5]], ["a", "b"], standin=True)
    >>> STANDIN_NOTE in fig.axes[0].get_title()
    True
    """
    matrix = _as_matrix(weights)
    labels = [str(t) for t in tokens]
    if len(labels) != matrix.shape[0]:
        raise AttentionPlotError(
            f"トークンが {len(labels)} 個ですが、重みは {matrix.shape[0]}×{matrix.shape[1]} です。"
            "重みを切り出した範囲 (例: [:n, :n]) と同じ範囲のトークンを渡してください。"
        )
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (日本語フォントを登録する: 豆腐 □ にしない)

    if ax is None:
        size = max(4.0, 0.38 * len(labels) + 2.0)
        fig, ax = plt.subplots(figsize=(size + 1.0, size))
    else:
        fig = ax.figure
    image = ax.imshow(matrix, cmap=cmap, vmin=0.0, vmax=max(float(matrix.max()), 1e-12))
    positions = np.arange(len(labels))
    ax.set_xticks(positions, labels, rotation=90)
    ax.set_yticks(positions, labels)
    ax.set_xlabel("キー (注目される側のトークン)")
    ax.set_ylabel("クエリ (注目する側のトークン)")
    full_title = "\n".join(part for part in (title, STANDIN_NOTE if standin else "") if part)
    ax.set_title(full_title)
    fig.colorbar(image, ax=ax, label="注意の重み (各行の和 = 1)")
    fig.tight_layout()
    return fig
