"""The figure of lesson 04-10: overlapping windows over a long text, and where ``"central"`` takes each position from.

Lesson 04-10 writes the windows itself (``window_spans``, ``split_windows``, ``max_context_window``,
``merge_windows``, saved from its cells into :mod:`jbert_helpers.saved`) and checks them against a fast
tokenizer's ``return_overflowing_tokens=True, stride=…``. This module only draws them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .errors import WindowError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

WINDOW_COLOR, KEPT_COLOR = "#c6dbef", "#2171b5"


def plot_windows(spans: list[tuple[int, int]], *, title: str | None = None) -> Figure:
    """The windows ``spans`` (``window_spans(...)``) over the text's token positions: one bar per window
    (light: the tokens it holds, dark: the positions ``"central"`` takes from it, by ``max_context_window``),
    and below, how many windows hold each position.

    Example::

        >>> fig = plot_windows([(0, 3), (2, 5)])
        >>> len(fig.axes[0].patches), [float(x) for x in fig.axes[0].get_xlim()]
        (4, [0.0, 5.45])
    """
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (日本語フォントを登録する: 豆腐 □ にしない)

    from .saved import max_context_window

    ok = isinstance(spans, list | tuple) and len(spans) > 0 and spans[0][0] == 0
    if not ok or not all(isinstance(w, tuple) and len(w) == 2 and w[0] < w[1] for w in spans):
        raise WindowError(
            f"plot_windows には window_spans(n_tokens, max_length, stride) の結果 [(start, end), …] を渡してください "
            f"(渡されたのは {spans!r:.60})。"
        )
    spans = list(spans)
    n = spans[-1][1]
    owners = [max_context_window(spans, p) for p in range(n)]
    kept = [  # the positions window k owns (none when its neighbours have more context everywhere)
        (owners.index(k), len(owners) - owners[::-1].index(k)) if k in owners else (s, s)
        for k, (s, _) in enumerate(spans)
    ]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 1.6 + 0.55 * len(spans)), sharex=True, gridspec_kw={"height_ratios": [len(spans), 1.3]}
    )
    for k, ((s, e), (ks, ke)) in enumerate(zip(spans, kept, strict=True)):
        top.barh(k, e - s, left=s, height=0.7, color=WINDOW_COLOR, ec="#6b8fb5", gid=f"window:{k}")
        top.barh(k, ke - ks, left=ks, height=0.3, color=KEPT_COLOR, gid=f"kept:{k}")
        top.text(e + n * 0.005, k, f"[{s}, {e})", va="center", fontsize=8.5)
    top.set_yticks(range(len(spans)), [f"窓 {k}" for k in range(len(spans))])
    top.invert_yaxis()
    top.set_xlim(0, n * 1.09)  # room for the [start, end) labels
    top.legend(
        handles=[
            plt.Rectangle((0, 0), 1, 1, color=WINDOW_COLOR, ec="#6b8fb5"),
            plt.Rectangle((0, 0), 1, 1, color=KEPT_COLOR),
        ],
        labels=["窓に入るトークン", "出力を採る範囲 (central)"],
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncol=2,
        fontsize=8.5,
        frameon=False,
    )
    cover = np.zeros(n, dtype=int)
    for s, e in spans:
        cover[s:e] += 1
    bottom.step(np.arange(n + 1), np.append(cover, cover[-1]), where="post", color="#444444", gid="coverage")
    bottom.set_ylim(0, max(cover.max(), 2) + 0.5)
    bottom.set_yticks(range(max(cover.max(), 2) + 1))
    bottom.set_ylabel("窓の数", fontsize=9)
    bottom.set_xlabel("文のトークンの位置 (特殊トークンを除く)")
    fig.suptitle(
        title
        or (
            f"{n} トークンを {len(spans)} 個の窓に分ける (1 窓に文のトークン {max(e - s for s, e in spans)} 個まで、"
            f"stride={spans[0][1] - spans[1][0] if len(spans) > 1 else 0})"
        ),
        x=0.02,
        ha="left",
        fontsize=10.5,
    )
    fig.tight_layout()
    return fig
