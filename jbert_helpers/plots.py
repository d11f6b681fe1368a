"""Figures of the padding lessons: real tokens vs ``[PAD]`` per row, and the additive mask.

* :func:`padding_counts` — per row, how many positions are real tokens and how many are ``[PAD]``
  (read from an ``attention_mask``).
* :func:`plot_padding` — one panel per padding choice, one stacked bar per row (real | ``[PAD]``).
* :func:`plot_attention_mask` — the ``[B, L]`` ``attention_mask`` and one row's additive mask $M$
  of $\\mathrm{softmax}(QK^\\top/\\sqrt{d_k} + M)$ spread over the queries (0 or ``finfo.min``), side
  by side (lesson 04-09, which builds $M$ itself: ``additive_mask``).

The lessons compute the numbers themselves (04-09 the additive mask, 04-12 the attention cost);
this module only draws. Bad input raises :class:`~jbert_helpers.errors.EncodingError` saying what
was wrong and the fix. Introduced in lesson 04-12 (the padding picture) and 04-09 (the mask picture).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .errors import EncodingError
from .invariants import _to_rows

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

#: Colours of the two bar segments (real tokens, padding).
REAL_COLOR, PAD_COLOR = "#1f77b4", "#c7c7c7"


def _mask_rows(mask: object, label: str) -> list[list[int]]:
    """An attention mask (list of lists, tensor or array; one row or a batch) as rows of 0/1 ints.

    The conversion (tensor / array / list, one row or a batch, integers only) is
    :func:`jbert_helpers.invariants._to_rows`; this adds what a mask must be: 0/1, rows of one length.
    """
    rows, _ = _to_rows(mask, label)
    for i, row in enumerate(rows):
        if len(row) == 0:
            raise EncodingError(f"{label}: 行 {i} が空です。修正: tokenizer の出力 (長さ 2 以上) を渡してください。")
        for j, x in enumerate(row):
            if x not in (0, 1):
                raise EncodingError(
                    f"{label}: 行 {i}、位置 {j} の値が {x!r} です。attention_mask は 0 か 1 だけです。"
                    "修正: input_ids ではなく attention_mask を渡してください。"
                )
    lengths = {len(r) for r in rows}
    if len(lengths) > 1:
        raise EncodingError(
            f"{label}: 行の長さがそろっていません ({[len(r) for r in rows]})。パディングされていないバッチです。"
            "修正: tokenizer(..., padding='longest') か padding='max_length' で長さをそろえてください。"
        )
    return rows


def padding_counts(mask: object, *, label: str = "attention_mask") -> list[tuple[int, int]]:
    """Per row, ``(real tokens, [PAD] positions)`` of a padded batch's ``attention_mask``.

    ``label`` names the batch in error messages (``plot_padding`` passes each setting's name).

    Example::

        >>> padding_counts([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
        [(3, 2), (5, 0)]
    """
    return [(sum(r), len(r) - sum(r)) for r in _mask_rows(mask, label)]


def plot_padding(
    masks: Mapping[str, object],
    *,
    row_labels: Sequence[str] | None = None,
    title: str = "パディングの内訳: 実トークンと [PAD]",
) -> Figure:
    """One panel per padding choice (``{"longest": enc["attention_mask"], ...}``), one bar per row.

    Each bar is a row of the batch: the blue part its real tokens (有効長), the grey part its
    ``[PAD]``. Panels keep their own x axis (系列長 L differs a lot between choices); each
    panel's title gives L and the share of ``[PAD]``. Returns the figure (end the cell with
    ``plt.show()``).

    Example::

        >>> fig = plot_padding({"longest": [[1, 1, 1, 0], [1, 1, 1, 1]]})
        >>> len(fig.axes), len(fig.axes[0].patches)
        (1, 4)
    """
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (日本語フォントを登録する: 豆腐 □ にしない)

    if not isinstance(masks, Mapping) or len(masks) == 0:
        raise EncodingError(
            "plot_padding には {'名前': attention_mask, ...} の辞書を 1 つ以上の項目で渡してください"
            f" (渡されたのは {type(masks).__name__}"
            + (", 空" if isinstance(masks, Mapping) else "")
            + ")。例: plot_padding({'longest': enc['attention_mask']})"
        )
    counts = {str(label): padding_counts(mask, label=str(label)) for label, mask in masks.items()}
    n_rows = {len(c) for c in counts.values()}
    if len(n_rows) > 1:
        raise EncodingError(
            f"バッチの行数が設定ごとに違います ({ {k: len(v) for k, v in counts.items()} })。"
            "修正: 同じ文のリストを各設定で符号化してください。"
        )
    (batch,) = n_rows
    labels = list(row_labels) if row_labels is not None else [f"行 {i}" for i in range(batch)]
    if len(labels) != batch:
        raise EncodingError(
            f"row_labels が {len(labels)} 個ですが、バッチは {batch} 行です。修正: 行の数だけ名前を渡してください。"
        )

    fig, axes = plt.subplots(len(counts), 1, figsize=(8, 1.2 + 1.1 * batch * len(counts)), squeeze=False)
    for ax, (label, rows) in zip(axes[:, 0], counts.items(), strict=True):
        real = [r for r, _ in rows]
        pad = [p for _, p in rows]
        length = real[0] + pad[0]
        y = list(range(batch))
        ax.barh(y, real, color=REAL_COLOR, label="実トークン")
        ax.barh(y, pad, left=real, color=PAD_COLOR, label="[PAD]")
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_xlim(0, length)
        share = sum(pad) / (batch * length)
        ax.set_title(f"{label}: 系列長 L={length}、[PAD] の割合 {share:.0%}", fontsize=10)
    axes[-1, 0].set_xlabel("位置 (トークン数)")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper right", ncol=2, fontsize=9, frameon=False)
    fig.suptitle(title, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


def plot_attention_mask(
    attention_mask: object,
    tokens: Sequence[str],
    *,
    row: int = 0,
    row_labels: Sequence[str] | None = None,
) -> Figure:
    """Left: the batch's ``attention_mask`` ``[B, L]`` (1/0 in each cell). Right: row ``row``'s
    ``L × L`` additive mask $M$ (queries down, keys across; ``tokens`` label both axes): white 0
    where the key is attended, dark where ``M = finfo.min`` (the ``[PAD]`` columns).

    ``tokens`` are row ``row``'s ``L`` tokens (``tokenizer.convert_ids_to_tokens(ids[row])``).
    The right panel's image holds ``M == 0`` (True where attended). Returns the figure.

    Example::

        >>> fig = plot_attention_mask([[1, 1, 0], [1, 1, 1]], ["[CLS]", "猫", "[PAD]"])
        >>> fig.axes[1].images[0].get_array().tolist()
        [[True, True, False], [True, True, False], [True, True, False]]
    """
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (日本語フォントを登録する: 豆腐 □ にしない)
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    rows = _mask_rows(attention_mask, "attention_mask")
    batch, length = len(rows), len(rows[0])
    if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < batch:
        raise EncodingError(
            f"row={row!r} はバッチ (0〜{batch - 1} 行) の外です。修正: 0 以上 {batch} 未満の整数にしてください。"
        )
    tokens = [str(t) for t in tokens]
    if len(tokens) != length:
        raise EncodingError(
            f"tokens が {len(tokens)} 個ですが、系列長は {length} です。"
            f"修正: tokenizer.convert_ids_to_tokens(batch['input_ids'][{row}]) を渡してください。"
        )
    labels = list(row_labels) if row_labels is not None else [f"文 {i}" for i in range(batch)]
    if len(labels) != batch:
        raise EncodingError(f"row_labels が {len(labels)} 個ですが、バッチは {batch} 行です。")
    keep = np.tile(np.array(rows[row]) == 1, (length, 1))  # M == 0 where the key is attended, for every query

    fig, (left, right) = plt.subplots(
        1, 2, figsize=(10.5, 5.6), gridspec_kw={"width_ratios": [1.25, 1]}, constrained_layout=True
    )
    two = ListedColormap([PAD_COLOR, REAL_COLOR])
    left.imshow(np.array(rows), cmap=two, vmin=0, vmax=1, aspect="equal")
    for b, r in enumerate(rows):
        for j, v in enumerate(r):
            left.text(j, b, str(v), ha="center", va="center", color="white" if v else "black", fontsize=10)
    left.set_yticks(range(batch), labels)
    left.set_xticks(range(length), range(length))
    left.set_xlabel("位置 j")
    left.set_title(f"attention_mask [B, L] = [{batch}, {length}]  (1 = 実トークン、0 = [PAD])", fontsize=10)
    left.add_patch(plt.Rectangle((-0.5, row - 0.5), length, 1, fill=False, ec="#d62728", lw=2, gid="selected-row"))

    masked = ListedColormap(["#3b3b3b", "#ffffff"])
    right.imshow(keep, cmap=masked, vmin=0, vmax=1, aspect="equal")
    right.set_xticks(range(length), tokens, rotation=90, fontsize=9)
    right.set_yticks(range(length), tokens, fontsize=9)
    right.set_xlabel("キー j (見られる側)")
    right.set_ylabel("クエリ i (見る側)")
    right.set_xticks(np.arange(-0.5, length), minor=True)
    right.set_yticks(np.arange(-0.5, length), minor=True)
    right.grid(which="minor", color="#bbbbbb", lw=0.5)
    right.tick_params(which="minor", length=0)
    right.set_title(f"{labels[row]} の M ({length} × {length})", fontsize=10)
    right.legend(
        handles=[
            Patch(fc="#ffffff", ec="#888888", label="M = 0 (見てよい)"),
            Patch(fc="#3b3b3b", label="M = float32 の最小値 ≈ -3.4e38 ([PAD] の列)"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22),
        fontsize=9,
        frameon=False,
    )
    return fig
