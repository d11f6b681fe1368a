"""Figures and small arithmetic the padding lessons show: real tokens vs ``[PAD]``, the mask, attention cost.

* :func:`padding_counts` — per row, how many positions are real tokens and how many are ``[PAD]``
  (read from an ``attention_mask``).
* :func:`plot_padding` — one panel per padding choice, one stacked bar per row (real | ``[PAD]``).
* :func:`additive_mask` / :func:`plot_attention_mask` — the ``[B, L]`` ``attention_mask`` as the
  additive mask $M$ of $\\mathrm{softmax}(QK^\\top/\\sqrt{d_k} + M)$ (0 or ``finfo.min``), and a picture
  of both (lesson 04-09).
* :func:`attention_cost` / :func:`attention_cost_table` — the $L^2 \\cdot H$ term of self-attention
  (Vaswani et al. 2017, Table 1: $O(n^2 \\cdot d)$ per layer) for a sequence length, and a table
  comparing several lengths with one of them.

Everything here is deterministic (integers and rounded ratios) so that nbval can compare it;
bad input raises :class:`~jbert_helpers.errors.EncodingError` saying what was wrong and the fix.
Introduced in lesson 04-12 (the padding picture and the cost table) and 04-09 (the additive mask).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import EncodingError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

#: Colours of the two bar segments (real tokens, padding).
REAL_COLOR, PAD_COLOR = "#1f77b4", "#c7c7c7"


def _mask_rows(mask: object, label: str) -> list[list[int]]:
    """An attention mask (list of lists, tensor or array; one row or a batch) as rows of 0/1 ints."""
    if hasattr(mask, "detach"):  # torch.Tensor (not imported here: plots work without torch)
        tensor: Any = mask
        if tensor.dtype.is_floating_point or tensor.is_complex():
            raise EncodingError(
                f"{label}: attention_mask の dtype が {tensor.dtype} です。整数 (0/1) のマスクを渡してください: "
                "tokenizer(...)['attention_mask'] をそのまま使います。"
            )
        mask = tensor.detach().cpu().tolist()
    elif hasattr(mask, "dtype") and hasattr(mask, "tolist"):  # numpy.ndarray
        array: Any = mask
        if array.dtype.kind not in "iub":
            raise EncodingError(
                f"{label}: attention_mask の dtype が {array.dtype} です。整数 (0/1) の配列を渡してください。"
            )
        mask = array.tolist()
    if isinstance(mask, (str, bytes)) or not isinstance(mask, Sequence):
        raise EncodingError(
            f"{label}: attention_mask は 0/1 のリストのリスト (バッチ) のはずですが {type(mask).__name__} です。"
            "修正: tokenizer(...)['attention_mask'] を渡してください。"
        )
    if len(mask) == 0:
        raise EncodingError(
            f"{label}: attention_mask が空です (空のバッチ)。修正: 少なくとも 1 文を符号化してください。"
        )
    if all(not isinstance(v, Sequence) for v in mask):
        mask = [mask]  # one sentence
    rows: list[list[int]] = []
    for i, row in enumerate(mask):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            raise EncodingError(
                f"{label}: 行 {i} がリストではありません ({type(row).__name__})。修正: 全行を 0/1 のリストにしてください。"
            )
        if len(row) == 0:
            raise EncodingError(f"{label}: 行 {i} が空です。修正: tokenizer の出力 (長さ 2 以上) を渡してください。")
        for j, x in enumerate(row):
            if x not in (0, 1) or isinstance(x, float):
                raise EncodingError(
                    f"{label}: 行 {i}、位置 {j} の値が {x!r} です。attention_mask は 0 か 1 だけです。"
                    "修正: input_ids ではなく attention_mask を渡してください。"
                )
        rows.append([int(x) for x in row])
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


def attention_cost(seq_len: int, hidden_size: int = 768, *, batch_size: int = 1) -> int:
    """Multiply-adds of $QK^\\top$ summed over the heads of one layer: ``batch_size · L² · H``.

    With $h$ heads of width $d_k = H / h$, each head computes an $L \\times L$ score matrix
    from $L \\times d_k$ inputs: $h \\cdot L^2 \\cdot d_k = L^2 \\cdot H$. (Weighting the values,
    $AV$, costs the same again; the linear layers cost $O(L \\cdot H^2)$.)

    Example::

        >>> attention_cost(11, 768)
        92928
        >>> attention_cost(11, 768, batch_size=2)
        185856
    """
    for name, value in (("seq_len", seq_len), ("hidden_size", hidden_size), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EncodingError(
                f"{name} は 1 以上の整数のはずですが {value!r} です。"
                "修正: 系列長は input_ids.shape[1]、H は bert.config.hidden_size を渡してください。"
            )
    return batch_size * seq_len * seq_len * hidden_size


@dataclass(frozen=True)
class CostRow:
    """One line of :class:`AttentionCostTable`."""

    label: str
    seq_len: int
    cost: int
    ratio: float  # cost / the baseline's cost


@dataclass(frozen=True)
class AttentionCostTable:
    """Attention cost of several sequence lengths, compared with a baseline; prints as a table."""

    rows: tuple[CostRow, ...]
    baseline: str
    hidden_size: int
    batch_size: int

    def __str__(self) -> str:
        width = max(len("設定"), *(len(r.label) for r in self.rows))
        # "設定" and "比" are two columns wide on screen: pad them two characters less
        head = f"{'設定':<{width - 2}}  {'L':>4}  {'B·L²·H':>12}  {'比':>9}"
        note = (
            f"(H={self.hidden_size}, B={self.batch_size}: 1 層・全ヘッドの QKᵀ の積和回数 B·L²·H。"
            f"比は {self.baseline} を 1 とした倍率)"
        )
        lines = [note, head]
        for r in self.rows:
            lines.append(f"{r.label:<{width}}  {r.seq_len:>4}  {r.cost:>12,}  {r.ratio:>10.1f}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython display
        p.text(str(self))


def attention_cost_table(
    lengths: Mapping[str, int], *, hidden_size: int = 768, batch_size: int = 1, baseline: str | None = None
) -> AttentionCostTable:
    """:func:`attention_cost` for each ``{label: L}``, with the ratio to ``baseline`` (default: the shortest).

    Example::

        >>> t = attention_cost_table({"L=22": 22, "L=11": 11}, hidden_size=768)
        >>> [(r.label, r.cost, r.ratio) for r in t.rows]
        [('L=22', 371712, 4.0), ('L=11', 92928, 1.0)]
    """
    if not isinstance(lengths, Mapping) or len(lengths) == 0:
        raise EncodingError(
            "lengths には {'名前': 系列長, ...} の辞書を 1 つ以上の項目で渡してください。例: {'longest': 11}"
        )
    costs = {str(k): (v, attention_cost(v, hidden_size, batch_size=batch_size)) for k, v in lengths.items()}
    if baseline is None:
        baseline = min(costs, key=lambda k: costs[k][0])
    if baseline not in costs:
        raise EncodingError(
            f"baseline {baseline!r} が lengths にありません ({list(costs)})。修正: そのどれかを指定してください。"
        )
    base = costs[baseline][1]
    rows = tuple(CostRow(k, n, c, c / base) for k, (n, c) in costs.items())
    return AttentionCostTable(rows, baseline, hidden_size, batch_size)


def additive_mask(attention_mask: object, *, dtype: object = None) -> Any:
    """The additive mask $M$ that eager attention adds to $QK^\\top/\\sqrt{d_k}$: shape ``[B, 1, L, L]``.

    ``M[b, 0, i, j]`` is ``0.0`` where key ``j`` of row ``b`` is a real token and
    ``torch.finfo(dtype).min`` (≈ -3.4e38 for float32) where it is ``[PAD]`` — for every query ``i``
    (the ``1`` broadcasts over the heads). This is what transformers 5 builds for BERT with
    ``attn_implementation="eager"`` (``masking_utils.create_bidirectional_mask`` → ``eager_mask``:
    the boolean mask turned into ``0`` / ``finfo.min``); the default ``"sdpa"`` passes the boolean
    mask itself to PyTorch. Both build no mask at all (``None``) when no row has ``[PAD]``; this
    function always returns the matrix (all zeros then), so that it can be drawn.
    Introduced in lesson 04-09.

    Example::

        >>> import torch
        >>> m = additive_mask([[1, 1, 0]])
        >>> tuple(m.shape), m[0, 0, 0].tolist() == [0.0, 0.0, float(torch.finfo(torch.float32).min)]
        ((1, 1, 3, 3), True)
    """
    import torch

    rows = _mask_rows(attention_mask, "attention_mask")
    dtype = torch.float32 if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise EncodingError(f"dtype は torch の浮動小数点型 (torch.float32 など) を渡してください ({dtype!r})。")
    keep = torch.tensor(rows, dtype=torch.bool)  # [B, L]: True where the key may be attended
    length = keep.shape[1]
    keep = keep[:, None, None, :].expand(-1, 1, length, -1)  # the same for every query i
    return torch.where(keep, torch.zeros((), dtype=dtype), torch.finfo(dtype).min)


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
    keep = np.array(additive_mask(rows)[row, 0].numpy() == 0)

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
