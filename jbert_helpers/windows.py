"""Long inputs beyond truncation: overlapping windows (a stride) and mapping their outputs back.

Introduced in lesson 04-10. BERT has ``max_position_embeddings = 512`` positions, so a text of
``n`` tokens with ``n + 2 > 512`` does not fit. Instead of cutting it (``truncation=True``), split
its tokens into windows of ``c = max_length - 2`` tokens (each gets its own ``[CLS]`` and ``[SEP]``)
that start every ``c - stride`` tokens, so consecutive windows share ``stride`` tokens — the
meaning ``stride`` has for the fast tokenizers' ``return_overflowing_tokens=True``. The last
window ends at the text's end (and may be shorter), as there.

The slow ``BertJapaneseTokenizer`` does not make windows: with ``return_overflowing_tokens=True``
and ``stride=s`` it returns one row and, in ``overflowing_tokens``, what was cut plus the ``s`` tokens
before it (measured with transformers 5.24). Hence :func:`split_windows`.

A position in an overlap gets an output from each window it is in. :func:`merge_windows` keeps one
per position: ``"central"`` takes it from the window where the position has the most context on
its nearer side (``min(left, right) + 0.01 · window length``, the rule of google-research/bert's
``run_squad.py`` ``_check_is_max_context``); ``"mean"`` averages them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import WindowError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

WINDOW_COLOR, KEPT_COLOR = "#c6dbef", "#2171b5"


def _positive_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise WindowError(f"{name} は {minimum} 以上の整数を渡してください ({name}={value!r})。")
    return value


def window_spans(n_tokens: int, max_length: int = 512, stride: int = 128) -> list[tuple[int, int]]:
    """The windows ``[start, end)`` over ``n_tokens`` text tokens (special tokens not counted).

    Each window holds at most ``max_length - 2`` tokens; window ``k`` starts at ``k · (max_length - 2 - stride)``;
    the last one ends at ``n_tokens``. ``stride`` (the overlap) must be smaller than ``max_length - 2``.

    Example::

        >>> window_spans(84, max_length=32, stride=8)
        [(0, 30), (22, 52), (44, 74), (66, 84)]
        >>> window_spans(10, max_length=32, stride=8)
        [(0, 10)]
    """
    n_tokens = _positive_int("n_tokens", n_tokens, 0)
    max_length = _positive_int("max_length", max_length, 3)
    stride = _positive_int("stride", stride, 0)
    room = max_length - 2
    if stride >= room:
        raise WindowError(
            f"stride={stride} が 1 つの窓に入るトークン数 max_length - 2 = {room} 以上です。窓が先へ進みません。"
            f"修正: stride を {room} より小さく (たとえば {room // 4}) してください。"
        )
    spans = []
    start = 0
    while True:
        end = min(start + room, n_tokens)
        spans.append((start, end))
        if end >= n_tokens:
            return spans
        start += room - stride


@dataclass(frozen=True)
class TokenWindows:
    """A text's tokens split into overlapping windows, ready for the model.

    ``ids`` are the text's token ids (no special tokens), ``spans`` the windows ``[start, end)``
    over them; :attr:`input_ids` / :attr:`attention_mask` are the padded batch (``[CLS]`` window
    ``[SEP]`` ``[PAD]``…), one row per window.
    """

    tokens: tuple[str, ...]
    ids: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]
    max_length: int
    stride: int
    cls_id: int
    sep_id: int
    pad_id: int

    @property
    def input_ids(self) -> list[list[int]]:
        width = max(e - s for s, e in self.spans) + 2
        rows = [[self.cls_id, *self.ids[s:e], self.sep_id] for s, e in self.spans]
        return [r + [self.pad_id] * (width - len(r)) for r in rows]

    @property
    def attention_mask(self) -> list[list[int]]:
        width = max(e - s for s, e in self.spans) + 2
        return [[1] * (e - s + 2) + [0] * (width - (e - s + 2)) for s, e in self.spans]

    def owners(self) -> list[int]:
        """Per text position, the window ``"central"`` takes its output from (max context)."""
        owners = []
        for p in range(len(self.ids)):
            scores = [(min(p - s, e - 1 - p) + 0.01 * (e - s), -k) for k, (s, e) in enumerate(self.spans) if s <= p < e]
            owners.append(-max(scores)[1])
        return owners

    def __str__(self) -> str:
        lines = [
            f"トークン {len(self.ids)} 個 → 窓 {len(self.spans)} 個 "
            f"(max_length={self.max_length}: 1 窓に本文 {self.max_length - 2} トークン、stride={self.stride})"
        ]
        for k, (s, e) in enumerate(self.spans):
            lines.append(f"  窓 {k}: 位置 {s:>4} 〜 {e - 1:>4} ({e - s} トークン)")
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython display
        p.text(str(self))


def split_windows(tokenizer: Any, text: str, *, max_length: int = 512, stride: int = 128) -> TokenWindows:
    """``text``'s tokens (``tokenizer.tokenize``) in windows of ``max_length`` with ``stride`` tokens of overlap.

    Example::

        >>> from transformers import BertJapaneseTokenizer
        >>> from jbert_helpers.standin import ensure_standin
        >>> tokenizer = BertJapaneseTokenizer.from_pretrained(str(ensure_standin()), mecab_kwargs={"mecab_dic": "ipadic"})
        >>> w = split_windows(tokenizer, "明日の天気は晴れだ。" * 3, max_length=12, stride=4)
        >>> w.spans
        ((0, 10), (6, 16), (12, 21))
        >>> tokenizer.convert_ids_to_tokens(w.input_ids[1])
        ['[CLS]', '。', '明日', 'の', '天気', 'は', '晴れ', 'だ', '。', '明日', 'の', '[SEP]']
    """
    if not all(hasattr(tokenizer, a) for a in ("tokenize", "convert_tokens_to_ids", "cls_token_id")):
        raise WindowError(
            f"tokenizer にはトークナイザ (BertJapaneseTokenizer) を渡してください (渡されたのは {type(tokenizer).__name__})。"
            "引数の順は split_windows(tokenizer, text, max_length=..., stride=...) です。"
        )
    if not isinstance(text, str):
        raise WindowError(f"text には文字列 (str) を 1 つ渡してください (渡されたのは {type(text).__name__})。")
    tokens = tokenizer.tokenize(text)
    if not tokens:
        raise WindowError("文にトークンが 1 つもありません (空の文)。1 文字以上の文を渡してください。")
    spans = window_spans(len(tokens), max_length, stride)
    return TokenWindows(
        tuple(tokens),
        tuple(tokenizer.convert_tokens_to_ids(tokens)),
        tuple(spans),
        max_length,
        stride,
        tokenizer.cls_token_id,
        tokenizer.sep_token_id,
        tokenizer.pad_token_id,
    )


def merge_windows(windows: TokenWindows, outputs: object, *, how: str = "central") -> np.ndarray:
    """Per-window outputs ``[windows, max width, …]`` (e.g. ``last_hidden_state``) back to ``[n_tokens, …]``.

    Row ``k`` of ``outputs`` is the model's output for window ``k`` (``windows.input_ids[k]``):
    position ``p`` of the text is row ``k``'s position ``1 + p - start_k`` (after ``[CLS]``).
    ``how="central"`` takes each position from :meth:`TokenWindows.owners`; ``how="mean"`` averages
    over the windows that contain it. Returns a NumPy array.

    Example::

        >>> w = TokenWindows(tuple("abcde"), (10, 11, 12, 13, 14), ((0, 3), (2, 5)), 5, 1, 2, 3, 0)
        >>> merge_windows(w, w.input_ids).tolist()
        [10, 11, 12, 13, 14]
        >>> merge_windows(w, [[0, 1, 1, 1, 0], [0, 3, 3, 3, 0]], how="mean").tolist()
        [1.0, 1.0, 2.0, 3.0, 3.0]
    """
    if not isinstance(windows, TokenWindows):
        raise WindowError(
            f"windows には split_windows(...) の結果を渡してください (渡されたのは {type(windows).__name__})。"
        )
    if how not in ("central", "mean"):
        raise WindowError(f"how は 'central' か 'mean' です (how={how!r})。")
    if hasattr(outputs, "detach"):
        outputs = outputs.detach().cpu().numpy()
    try:
        array = np.asarray(outputs)
    except ValueError as error:
        raise WindowError(
            "outputs の行の長さがそろっていません: パディングしたバッチの出力を渡してください。"
        ) from error
    need = max(e - s for s, e in windows.spans) + 2
    if array.ndim < 2 or array.shape[0] != len(windows.spans) or array.shape[1] < need:
        raise WindowError(
            f"outputs の形 {array.shape} が窓と合いません: [窓の数 {len(windows.spans)}, 系列長 {need} 以上, …] のはずです。"
            "修正: bert(input_ids=..., attention_mask=...) に windows.input_ids をそのまま渡した出力を使ってください。"
        )
    n = len(windows.ids)
    if how == "central":
        owners = windows.owners()
        return np.stack([array[k, 1 + p - windows.spans[k][0]] for p, k in enumerate(owners)])
    total = np.zeros((n, *array.shape[2:]), dtype=float)
    count = np.zeros(n)
    for k, (s, e) in enumerate(windows.spans):
        total[s:e] += array[k, 1 : 1 + e - s]
        count[s:e] += 1
    return total / count.reshape(-1, *([1] * (array.ndim - 2)))


def plot_windows(windows: TokenWindows, *, title: str | None = None) -> Figure:
    """The windows over the text's token positions: one bar per window (light: the tokens it holds,
    dark: the positions ``"central"`` takes from it), and below, how many windows hold each position.

    Example::

        >>> w = TokenWindows(tuple("abcde"), (10, 11, 12, 13, 14), ((0, 3), (2, 5)), 5, 1, 2, 3, 0)
        >>> fig = plot_windows(w)
        >>> len(fig.axes[0].patches), [float(x) for x in fig.axes[0].get_xlim()]
        (4, [0.0, 5.45])
    """
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (日本語フォントを登録する: 豆腐 □ にしない)

    if not isinstance(windows, TokenWindows):
        raise WindowError(
            f"plot_windows には split_windows(...) の結果を渡してください (渡されたのは {type(windows).__name__})。"
        )
    n, spans = len(windows.ids), windows.spans
    owners = windows.owners()
    kept = [(owners.index(k), len(owners) - owners[::-1].index(k)) for k in range(len(spans))]
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
            f"{n} トークンを max_length={windows.max_length} (本文 {windows.max_length - 2})、"
            f"stride={windows.stride} で {len(spans)} 個の窓に分ける"
        ),
        x=0.02,
        ha="left",
        fontsize=10.5,
    )
    fig.tight_layout()
    return fig
