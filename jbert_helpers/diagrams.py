"""Diagrams drawn from code: BERT's layers (04-02), MeCab → WordPiece (04-04), a text's characters → tokens (04-13a).

* :func:`plot_bert_architecture` — embeddings (token + position + segment → LayerNorm), the
  ``num_hidden_layers`` encoder layers, one of them opened up (multi-head attention → residual +
  LayerNorm → FFN → residual + LayerNorm), the pooler; every number comes from the model's config
  (Devlin et al. 2019, Figure 2 and section 3; the layer is Vaswani et al. 2017's encoder layer, Figure 1).
* :func:`plot_word_pieces` — one sentence as text, as MeCab words and as WordPiece tokens, each
  word's tokens drawn under it, with the ``word_ids`` (from lesson 04-04's :func:`jbert_helpers.align_words`).
* :func:`plot_text_report` — what became of each character of a text (lesson 04-13a): the characters
  coloured by their fate, the tokens under the characters they came from (:func:`jbert_helpers.check_text`).

Every box is a patch whose ``gid`` names it (``"layer:3"``, ``"word:0"``, ``"token:5"``), so a
test can count the parts without looking at pixels. Bad input raises
:class:`~jbert_helpers.errors.DiagramError` saying what to pass.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from .errors import DiagramError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .saved import WordAlignment

#: Fill colours: embeddings, encoder layers, the pooler, inputs/outputs; tokens that start a word / continue one.
EMB_COLOR, LAYER_COLOR, POOLER_COLOR, IO_COLOR = "#fde3c8", "#cfe2f3", "#d9ead3", "#eeeeee"
WORD_COLOR, WORD_START_COLOR, CONTINUATION_COLOR, UNK_COLOR = "#fff2cc", "#cfe2f3", "#f9cb9c", "#f4cccc"

_CONFIG_FIELDS = (
    "num_hidden_layers",
    "hidden_size",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "type_vocab_size",
)


def _box(
    ax: Axes, x: float, y: float, w: float, h: float, text: str, color: str, gid: str, *, size: float = 9.5
) -> None:
    """A rounded box with ``text`` centred in it; (x, y) is the lower-left corner."""
    from matplotlib.patches import FancyBboxPatch

    patch = FancyBboxPatch(
        (x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", fc=color, ec="#444444", lw=1.0, gid=gid
    )
    ax.add_patch(patch)
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, gid=f"{gid}:text")


def _arrow(ax: Axes, x0: float, y0: float, x1: float, y1: float, *, style: str = "-|>", **kw: Any) -> None:
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": style, "color": "#444444", "lw": 1.0, **kw})


def _config_of(config: object) -> dict[str, Any]:
    """The numbers the diagram needs, from a ``BertConfig`` (or a model, through ``.config``)."""
    config = getattr(config, "config", config)  # a BertModel: its config
    missing = [f for f in _CONFIG_FIELDS if not isinstance(getattr(config, f, None), int)]
    if missing:
        raise DiagramError(
            f"plot_bert_architecture には BERT の設定 (bert.config) を渡してください: {type(config).__name__} には "
            f"{', '.join(missing)} がありません。例: plot_bert_architecture(bert.config)"
        )
    values = {f: getattr(config, f) for f in _CONFIG_FIELDS}
    if values["num_hidden_layers"] < 1 or values["hidden_size"] % max(values["num_attention_heads"], 1):
        raise DiagramError(
            f"num_hidden_layers={values['num_hidden_layers']}、hidden_size={values['hidden_size']}、"
            f"num_attention_heads={values['num_attention_heads']} では BERT の層を描けません "
            "(層は 1 つ以上、hidden_size はヘッド数で割り切れる必要があります)。"
        )
    values["hidden_act"] = str(getattr(config, "hidden_act", "gelu"))
    return values


def plot_bert_architecture(config: object, *, title: str | None = None) -> Figure:
    """BERT as a block diagram, every number read from ``config`` (``bert.config`` or the model).

    Left: the input ``[B, L]``; the embeddings (token ``V×H`` + position ``P×H`` + segment
    ``T×H`` → add → LayerNorm) giving ``[B, L, H]``; one box per encoder layer
    (``num_hidden_layers`` of them, gid ``"layer:1"`` …), each fed by an arrow from ``attention_mask``
    (the additive mask ``M``, made once, the same for every layer; arrows gid ``"mask:1"`` …);
    ``last_hidden_state [B, L, H]``; the pooler (``[CLS]`` → dense ``H→H`` + tanh) giving
    ``pooler_output [B, H]``. Right: the inside of one layer (multi-head attention with ``h`` heads
    of ``d_k = H/h`` and ``M`` in its softmax, the heads concatenated → ``W^O``, residual + LayerNorm,
    FFN ``H → I → H`` with the config's activation, residual + LayerNorm). Returns the figure.

    Example::

        >>> from transformers import BertConfig
        >>> fig = plot_bert_architecture(BertConfig(num_hidden_layers=4))
        >>> sorted(p.get_gid() for p in fig.axes[0].patches if str(p.get_gid()).startswith("layer:"))
        ['layer:1', 'layer:2', 'layer:3', 'layer:4']
    """
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (日本語フォントを登録する: 豆腐 □ にしない)

    c = _config_of(config)
    n, hidden, heads = c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"]
    act = c["hidden_act"].upper() if c["hidden_act"].lower().startswith("gelu") else c["hidden_act"]
    shape = f"[B, L, {hidden}]"

    fig, ax = plt.subplots(figsize=(11.5, 9.8))
    ax.set_xlim(0, 12.6)
    ax.set_ylim(0, 13)
    ax.axis("off")

    # --- left column: the whole model, top to bottom ------------------------------------------
    _box(ax, 1.6, 12.1, 3.2, 0.6, "input_ids・token_type_ids\n[B, L]", IO_COLOR, "input")
    _arrow(ax, 3.2, 12.1, 3.2, 11.6)
    emb = [
        ("トークン埋め込み", f"{c['vocab_size']:,} × {hidden}", "embedding:token"),
        ("位置埋め込み", f"{c['max_position_embeddings']} × {hidden}", "embedding:position"),
        ("セグメント埋め込み", f"{c['type_vocab_size']} × {hidden}", "embedding:segment"),
    ]
    for i, (name, size, gid) in enumerate(emb):
        _box(ax, 0.1 + i * 2.1, 10.7, 1.95, 0.85, f"{name}\n{size}", EMB_COLOR, gid, size=8.5)
        _arrow(ax, 1.075 + i * 2.1, 10.7, 3.2, 10.25)
    _box(ax, 1.6, 9.65, 3.2, 0.6, "足す → LayerNorm", EMB_COLOR, "embedding:sum")
    ax.text(0.1, 11.75, "埋め込み (Devlin et al. 2019, Figure 2)", fontsize=9, color="#7f4f00")
    _arrow(ax, 3.2, 9.65, 3.2, 9.2)
    ax.text(3.35, 9.33, shape, fontsize=8.5, color="#333333")

    top, bottom = 9.15, 3.2  # the stack of encoder layers
    step = (top - bottom) / n
    # attention_mask [B, L] → the additive mask M, made once and handed to the attention of every layer
    bus, mask_color = 6.75, "#c0392b"  # the line of the mask and its colour
    _box(ax, 5.95, 12.1, 1.6, 0.6, "attention_mask\n[B, L]", IO_COLOR, "input:attention_mask", size=8.5)
    ax.plot([bus, bus], [12.1, top - n * step + step * 0.5], color=mask_color, lw=1.4, gid="mask:bus")
    ax.text(bus + 0.1, 11.7, "加算マスク M\n(全層で同じ)", fontsize=8, color=mask_color, va="top")
    for k in range(n):
        y = top - (k + 1) * step + step * 0.12
        _box(ax, 1.6, y, 3.2, step * 0.76, f"層 {k + 1}", LAYER_COLOR, f"layer:{k + 1}", size=min(10, 80 * step))
        y_mid = y + step * 0.38
        mask_arrow = {"arrowstyle": "-|>", "color": mask_color, "lw": 0.9, "mutation_scale": 8}
        ax.annotate("", xy=(4.8, y_mid), xytext=(bus, y_mid), arrowprops=mask_arrow, gid=f"mask:{k + 1}")
    ax.text(
        0.05,
        (top + bottom) / 2,
        f"× {n} 層\n(構造は同じ、\nパラメータは\n層ごとに別)",
        fontsize=9,
        va="center",
        ha="left",
    )
    _arrow(ax, 3.2, bottom, 3.2, 2.65)
    _box(ax, 1.6, 2.05, 3.2, 0.6, f"last_hidden_state\n{shape}", IO_COLOR, "output:last_hidden_state")
    _arrow(ax, 3.2, 2.05, 3.2, 1.6)
    _box(ax, 1.1, 0.95, 4.2, 0.65, f"pooler: [CLS] の位置 → 全結合 {hidden}→{hidden} + tanh", POOLER_COLOR, "pooler")
    _arrow(ax, 3.2, 0.95, 3.2, 0.6)
    _box(ax, 1.6, 0.0, 3.2, 0.6, f"pooler_output\n[B, {hidden}]", IO_COLOR, "output:pooler_output")

    # --- right column: the inside of one layer -------------------------------------------------
    left, x0, w = 7.45, 7.95, 3.3
    first = top - step + step * 0.12
    ax.plot([4.8, left], [first + step * 0.76, 10.2], ls="--", color="#888888", lw=0.8)
    ax.plot([4.8, left], [first, 1.55], ls="--", color="#888888", lw=0.8)
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((left, 1.55), 12.5 - left, 8.65, fill=False, ls="--", ec="#888888", gid="detail:frame"))
    ax.text(left + 0.15, 9.8, "1 層の中 (Vaswani et al. 2017 のエンコーダ層)", fontsize=9.5)
    d_k = hidden // heads
    parts = [
        (
            8.2,
            1.0,
            f"マルチヘッドアテンション\n{heads} ヘッド × d_k = {d_k}\n"
            + r"$\mathrm{softmax}(QK^\top/\sqrt{d_k} + M)\,V$",
            "detail:attention",
        ),
        (6.95, 0.7, f"ヘッドを連結 → $W^O$ ({hidden}→{hidden})", "detail:output_projection"),
        (5.75, 0.7, "残差 (+ 入力) → LayerNorm", "detail:add_norm_1"),
        (3.95, 0.8, f"FFN: {hidden} → {c['intermediate_size']} → {hidden}\n(活性化 {act})", "detail:ffn"),
        (2.75, 0.7, "残差 (+ 入力) → LayerNorm", "detail:add_norm_2"),
    ]
    for y, hgt, text, gid in parts:
        _box(ax, x0, y, w, hgt, text, LAYER_COLOR, gid, size=9)
    _arrow(ax, x0 + w / 2, 9.6, x0 + w / 2, 9.2)
    ax.text(x0 + w / 2 + 0.1, 9.35, f"入力 {shape}", fontsize=8.5)
    for (y_hi, *_), (y_lo, h_lo, *_) in zip(parts, parts[1:], strict=False):
        _arrow(ax, x0 + w / 2, y_hi, x0 + w / 2, y_lo + h_lo)
    _arrow(ax, x0 + w / 2, 2.75, x0 + w / 2, 2.0)
    ax.text(x0 + w / 2 + 0.1, 2.15, f"出力 {shape} → 次の層へ", fontsize=8.5)
    ax.text(x0 + w / 2 + 0.1, 5.05, shape, fontsize=8.5, color="#333333")
    # the additive mask M enters the attention's softmax (from the right)
    _arrow(ax, 12.4, 8.7, x0 + w, 8.7, color=mask_color, lw=1.2)
    ax.text(12.35, 8.8, "M", fontsize=10, color=mask_color, ha="right", va="bottom")
    # the two residual connections: around the attention (with W^O), around the FFN
    for y_from, y_to in ((9.4, 6.1), (5.3, 3.1)):
        _arrow(ax, x0, y_from, x0, y_to, style="-|>", connectionstyle="bar,fraction=-0.12", ls="--")
    ax.text(left + 0.07, 7.9, "残差", fontsize=8.5, color="#555555", rotation=90)
    ax.text(left + 0.07, 4.3, "残差", fontsize=8.5, color="#555555", rotation=90)

    ax.set_title(
        title or f"BERT の構造 (層 {n}、隠れ状態の次元 H = {hidden}、ヘッド {heads}; 数は config から)",
        loc="left",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def _display_width(s: str) -> float:
    """Roughly how many full-width characters ``s`` takes (ASCII counts as half)."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.6 for ch in s)


def plot_word_pieces(alignment: WordAlignment, *, text: str | None = None, title: str | None = None) -> Figure:
    """One sentence in three rows: the text, its MeCab words, its WordPiece tokens under their words.

    ``alignment`` is what lesson 04-04's :func:`jbert_helpers.align_words` returns: ``words``, and
    ``tokens`` with their ``word_ids`` (``None`` for ``[CLS]``/``[SEP]``, drawn grey, under no word).
    Each word box (gid ``"word:i"``) spans exactly its tokens (gid ``"token:j"``); tokens that continue
    a word (``##…``) are orange, ``[UNK]`` is red; under each token its ``word_id``. The top row is
    ``text`` (default: the words joined). Returns the figure.

    Example::

        >>> from jbert_helpers import WordAlignment
        >>> a = WordAlignment(["猫", "が"], ["[CLS]", "猫", "が", "[SEP]"], [None, 0, 1, None])
        >>> fig = plot_word_pieces(a)
        >>> sorted(p.get_gid() for p in fig.axes[0].patches)
        ['text', 'token:0', 'token:1', 'token:2', 'token:3', 'word:0', 'word:1']
    """
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (日本語フォントを登録する: 豆腐 □ にしない)

    if not all(hasattr(alignment, a) for a in ("words", "tokens", "word_ids")):
        raise DiagramError(
            f"plot_word_pieces には align_words(tokenizer, text) の結果を渡してください "
            f"(渡されたのは {type(alignment).__name__})。"
        )
    words, tokens, word_ids = list(alignment.words), list(alignment.tokens), list(alignment.word_ids)
    numbered = [w for w in word_ids if w is not None]
    if (
        len(tokens) != len(word_ids)
        or any(not isinstance(w, int) or not 0 <= w < len(words) for w in numbered)
        or numbered != sorted(numbered)
    ):
        raise DiagramError(
            "tokens と word_ids の長さが違うか、word_ids が語の番号 (0 から増える、特殊トークンは None) になっていません。"
            "align_words(tokenizer, text) の結果をそのまま渡してください。"
        )
    if not words:
        raise DiagramError("語が 1 つもありません (空の文)。1 文字以上の文で align_words を作ってください。")

    gap_token, gap_word = 0.12, 0.45
    widths = [max(_display_width(t), 1.0) * 0.42 + 0.3 for t in tokens]
    # x positions, left to right: a wider gap between words (and around [CLS]/[SEP], which belong to none)
    spans: dict[int, tuple[float, float]] = {}  # per word: (left, right)
    token_x: list[float] = []
    x, previous = 0.0, -2  # -2: before any token
    for j, w in enumerate(word_ids):
        key = -1 if w is None else w
        if j and key != previous:
            x += gap_word - gap_token
        if w is not None and w not in spans:
            for skipped in range(len(spans), w):  # words WordPiece gave no token: a narrow box of their own
                spans[skipped] = (x, x + max(_display_width(words[skipped]), 1.0) * 0.42 + 0.3)
                x = spans[skipped][1] + gap_word
        token_x.append(x)
        if w is not None:
            spans[w] = (spans.get(w, (x, x))[0], x + widths[j])
        x += widths[j] + gap_token
        previous = key
    for skipped in range(len(spans), len(words)):  # trailing words without a token
        x += gap_word - gap_token
        spans[skipped] = (x, x + max(_display_width(words[skipped]), 1.0) * 0.42 + 0.3)
        x = spans[skipped][1] + gap_token
    total = x - gap_token
    left_words = min(a for a, _ in spans.values())
    right_words = max(b for _, b in spans.values())

    fig, ax = plt.subplots(figsize=(min(max(total * 0.42 + 1.8, 6.5), 16), 3.3))
    ax.set_xlim(-2.1, total + 0.1)
    ax.set_ylim(-0.75, 3.1)
    ax.axis("off")
    rows = {"text": 2.35, "word": 1.25, "token": 0.15}
    h = 0.6
    ax.text(-2.0, rows["text"] + h / 2, "文", va="center", fontsize=10)
    ax.text(-2.0, rows["word"] + h / 2, "① MeCab\n    形態素 (語)", va="center", fontsize=9)
    ax.text(-2.0, rows["token"] + h / 2, "② WordPiece\n    トークン", va="center", fontsize=9)
    ax.text(-2.0, -0.5, "word_ids", va="center", fontsize=9, family="monospace")
    shown = text if text is not None else "".join(words)
    _box(ax, left_words, rows["text"], right_words - left_words, h, shown, IO_COLOR, "text", size=10)
    for i, word in enumerate(words):
        left, right = spans[i]
        _box(ax, left, rows["word"], right - left, h, word, WORD_COLOR, f"word:{i}", size=10)
    for j, (token, left) in enumerate(zip(tokens, token_x, strict=True)):
        w = word_ids[j]
        if w is None:
            color = IO_COLOR
        elif token == "[UNK]":
            color = UNK_COLOR
        else:
            color = CONTINUATION_COLOR if token.startswith("##") else WORD_START_COLOR
        _box(ax, left, rows["token"], widths[j], h, token, color, f"token:{j}", size=10)
        ax.text(left + widths[j] / 2, -0.5, str(w), ha="center", va="center", fontsize=9)
        if w is not None:
            word_left, word_right = spans[w]
            ax.plot(
                [left + widths[j] / 2, (word_left + word_right) / 2],
                [rows["token"] + h, rows["word"]],
                color="#999999",
                lw=0.7,
            )
    special = len(tokens) - len(numbered)
    ax.set_title(
        title
        or f"MeCab の語 {len(words)} 個 → WordPiece のトークン {len(numbered)} 個"
        + (f" + 特殊トークン {special} 個" if special else "")
        + " (## は語の続き)",
        loc="left",
        fontsize=10.5,
    )
    fig.tight_layout()
    return fig


#: Fill colour of a character by what became of it (:data:`jbert_helpers.textcheck.REASONS`, or kept).
FATE_COLORS = {
    "kept": "#ffffff",
    "dropped": "#999999",
    "truncated": "#b4a7d6",
    "special": "#ffe599",
    "unk": UNK_COLOR,
    "normalized": "#b6d7a8",
}
#: The figure's title counts the characters by fate, with these short names.
_FATE_SHORT = {
    "kept": "そのまま",
    "dropped": "消えた",
    "truncated": "切り詰め",
    "special": "特殊トークン",
    "unk": "[UNK]",
    "normalized": "NFKC で変わった",
}
TEXT_REPORT_MAX_CHARS = 40


def _japanese_glyphs() -> set[int]:
    """The code points the Japanese font that matplotlib-fontja registers has a glyph for."""
    from matplotlib import ft2font
    from matplotlib.font_manager import FontProperties, findfont

    return set(ft2font.FT2Font(findfont(FontProperties(family="IPAexGothic"))).get_charmap())


def plot_text_report(report: Any, *, title: str | None = None) -> Figure:
    """What became of each character of a text: the characters coloured by their fate, the tokens under them.

    ``report`` is :func:`jbert_helpers.check_text`'s result. Top row: one cell per character of the
    original text (gid ``"char:i"``), coloured by what became of it (kept, or the reason of the
    finding it belongs to); a character the font cannot draw or that is invisible (a zero-width space,
    NUL, an emoji) is written as its code point, ``U+200B``. Under it, each token (gid ``"token:j"``)
    spans the characters it came from (:class:`~jbert_helpers.textcheck.TokenSpan`); the tokens the
    encoding cut off are hatched. Texts of at most 40 characters. Returns the figure.

    Example::

        >>> from jbert_helpers.textcheck import TextFinding, TextReport, TokenSpan
        >>> r = TextReport("前\\u200b後", (TokenSpan("前", 174, 0, 1), TokenSpan("[UNK]", 1, 1, 2),
        ...     TokenSpan("後", 4, 2, 3)), 3, (TextFinding(1, 2, "\\u200b", "[UNK]", "unk", "語彙にない文字"),), False)
        >>> fig = plot_text_report(r)
        >>> [p.get_facecolor()[:3] == (1.0, 1.0, 1.0) for p in fig.axes[0].patches if p.get_gid().startswith("char:")]
        [True, False, True]
    """
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (日本語フォントを登録する: 豆腐 □ にしない)
    from matplotlib.patches import Patch

    if not all(hasattr(report, a) for a in ("text", "tokens", "kept", "findings")):
        raise DiagramError(
            f"plot_text_report には check_text(tokenizer, text) の結果を渡してください (渡されたのは {type(report).__name__})。"
        )
    text = report.text
    if not text or len(text) > TEXT_REPORT_MAX_CHARS:
        raise DiagramError(
            f"文の長さが {len(text)} 文字です。図にできるのは 1〜{TEXT_REPORT_MAX_CHARS} 文字の文です: "
            f"長い文は check_text(tokenizer, text[:{TEXT_REPORT_MAX_CHARS}]) のように一部を調べてください。"
        )
    from .textcheck import REASON_LABELS  # the reasons' names, shared with the text report

    labels = {"kept": "そのまま残った", **REASON_LABELS}
    fate = ["kept"] * len(text)
    for finding in report.findings:
        for i in range(finding.start, finding.end):
            fate[i] = finding.reason

    fig, ax = plt.subplots(figsize=(min(max(len(text) * 0.45 + 2.2, 6.5), 16), 2.9))
    ax.set_xlim(-2.1, len(text) + 0.1)
    ax.set_ylim(-0.2, 2.6)
    ax.axis("off")
    h = 0.62
    ax.text(-2.0, 1.6 + h / 2, "元の文の\n文字", va="center", fontsize=9)
    ax.text(-2.0, 0.35 + h / 2, "トークン", va="center", fontsize=9)
    glyphs = _japanese_glyphs()  # read the font once per figure, not once per character
    for i, ch in enumerate(text):
        if ch.isprintable() and not ch.isspace() and ord(ch) in glyphs:
            _box(ax, i + 0.04, 1.6, 0.92, h, ch, FATE_COLORS[fate[i]], f"char:{i}", size=11)
        else:  # invisible, or no glyph in the font: its code point, small and upright
            _box(ax, i + 0.04, 1.6, 0.92, h, "", FATE_COLORS[fate[i]], f"char:{i}")
            ax.text(i + 0.5, 1.6 + h / 2, f"U+{ord(ch):04X}", ha="center", va="center", fontsize=5.5, rotation=90)
        ax.text(i + 0.5, 1.6 + h + 0.12, str(i), ha="center", va="bottom", fontsize=7, color="#666666")
    for j, span in enumerate(report.tokens):
        token = span.token
        color = (
            UNK_COLOR
            if token == "[UNK]"
            else FATE_COLORS["special"]
            if fate[span.start] == "special"
            else CONTINUATION_COLOR
            if token.startswith("##")
            else WORD_START_COLOR
        )
        width = max(span.end - span.start, 1) - 0.08
        _box(ax, span.start + 0.04, 0.35, width, h, token, color, f"token:{j}", size=9 if len(token) < 5 else 7.5)
        if j >= report.kept:
            ax.patches[-1].set_hatch("///")
    used = [f for f in FATE_COLORS if f in fate]
    ax.legend(
        handles=[Patch(facecolor=FATE_COLORS[f], edgecolor="#444444", label=labels[f]) for f in used],
        loc="lower left",
        bbox_to_anchor=(0.0, -0.12),
        ncol=len(used),
        fontsize=8,
        frameon=False,
    )
    ax.set_title(
        title
        or f"{len(text)} 文字 → トークン {report.kept} 個 (文字の行き先: "
        + "・".join(f"{_FATE_SHORT[f]} {fate.count(f)}" for f in used)
        + ")",
        loc="left",
        fontsize=10.5,
    )
    fig.tight_layout()
    return fig


def plot_gelu(*, x_min: float = -4.0, x_max: float = 4.0) -> Figure:
    """The exact GELU ``x Φ(x)`` (erf) beside its tanh approximation, and their difference (lesson 04-18a).

    Left: both curves on ``[x_min, x_max]`` (lines with gid ``"gelu:exact"`` and ``"gelu:tanh"``);
    right: exact − tanh (gid ``"gelu:difference"``), the only place the two can be told apart.
    ``torch.nn.functional.gelu`` computes both (``approximate="none"`` / ``"tanh"``). Returns the figure.

    >>> fig = plot_gelu(x_min=-3.0, x_max=3.0)
    >>> sorted(str(line.get_gid()) for ax in fig.axes for line in ax.lines if line.get_gid())
    ['gelu:difference', 'gelu:exact', 'gelu:tanh']
    """
    if not x_min < x_max:
        raise DiagramError(
            f"x_min < x_max にしてください (x_min={x_min}, x_max={x_max})。例: plot_gelu(x_min=-4, x_max=4)"
        )
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (日本語フォントを登録する: 豆腐 □ にしない)
    import torch
    import torch.nn.functional as F

    x = torch.linspace(x_min, x_max, 801, dtype=torch.float64)
    exact, tanh = F.gelu(x), F.gelu(x, approximate="tanh")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(x, exact, color="#1f77b4", lw=2.2, label="正確な GELU: $x\\,\\Phi(x)$ (erf)", gid="gelu:exact")
    left.plot(x, tanh, color="#ff7f0e", lw=1.2, ls="--", label="tanh 近似", gid="gelu:tanh")
    left.set_xlabel("$x$")
    left.set_ylabel("GELU($x$)")
    left.set_title("2 つの GELU (線は重なって見える)")
    left.legend(loc="upper left")
    right.plot(x, exact - tanh, color="#2ca02c", gid="gelu:difference")
    right.axhline(0.0, color="#888888", lw=0.8)
    right.set_xlabel("$x$")
    right.set_ylabel("差 (正確 − tanh 近似)")
    right.set_title(f"差: 最大 {float((exact - tanh).abs().max()):.1e} (区間 [{x_min:g}, {x_max:g}])")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_head_split(config: object, *, seq_len: int) -> Figure:
    """The head split ``[B, L, H]`` → ``[B, h, L, d_k]`` for one sentence (lesson 04-18a).

    Left: ``q`` of one sentence, ``seq_len`` rows × ``H`` columns, cut into ``h`` coloured bands of
    ``d_k = H/h`` columns (gid ``"band:k"``); right: the same bands as ``h`` separate ``L × d_k``
    matrices, head ``k`` (0-based, as in ``q_h[:, k]``) = columns ``k·d_k`` … ``(k+1)·d_k − 1``
    (gid ``"head:k"``). Numbers come from ``config`` (``bert.config``). Returns the figure.

    >>> from transformers import BertConfig
    >>> fig = plot_head_split(BertConfig(), seq_len=14)
    >>> len([p for p in fig.axes[0].patches if str(p.get_gid()).startswith("head:")])
    12
    """
    c = _config_of(config)
    if not isinstance(seq_len, int) or seq_len < 1:
        raise DiagramError(f"seq_len は 1 以上の整数 (系列長 L) を渡してください (渡された値: {seq_len!r})。")
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (日本語フォントを登録する: 豆腐 □ にしない)
    from matplotlib.patches import Rectangle

    hidden, heads = c["hidden_size"], c["num_attention_heads"]
    d_k, cols = hidden // heads, (heads + 1) // 2  # the heads on the right: two rows
    colors = plt.get_cmap("tab20" if heads <= 20 else "hsv", max(heads, 1))
    fig, ax = plt.subplots(figsize=(11, 4.6))
    ax.set_xlim(0, 14.5 + 1.6 * cols)
    ax.set_ylim(0, 10.6)
    ax.axis("off")
    band = 12.0 / heads
    for k in range(heads):
        ax.add_patch(Rectangle((0.5 + k * band, 3.0), band, 4.0, fc=colors(k), ec="#444444", gid=f"band:{k}"))
        ax.text(0.5 + (k + 0.5) * band, 5.0, str(k), ha="center", va="center", fontsize=8)
    ax.text(6.5, 7.4, f"q (1 文ぶん): L = {seq_len} 行 × H = {hidden} 列", ha="center", fontsize=10)
    ax.text(6.5, 2.5, f"形 [B, L, {hidden}]: {heads} ヘッド × {d_k} 列が横に並ぶ", ha="center", fontsize=9)
    _arrow(ax, 12.8, 5.0, 14.4, 5.0)
    ax.text(13.6, 5.4, f".view(B, L, {heads}, {d_k})\n.transpose(1, 2)", ha="center", va="bottom", fontsize=8)
    for k in range(heads):
        row, col = divmod(k, cols)
        x, y = 14.9 + col * 1.6, 5.6 - row * 4.9
        ax.add_patch(Rectangle((x, y), 1.1, 3.5, fc=colors(k), ec="#444444", gid=f"head:{k}"))
        ax.text(x + 0.55, y + 3.65, f"ヘッド {k}", ha="center", fontsize=8)
        ax.text(x + 0.55, y + 1.75, f"{d_k}\n列", ha="center", va="center", fontsize=7.5)
    ax.text(
        14.9 + 0.8 * cols, 0.15, f"形 [B, {heads}, L, {d_k}]: ヘッドごとに L × {d_k} の行列", ha="center", fontsize=9
    )
    ax.set_title(
        f"ヘッドへの分割: ヘッド k (0 から数える) は q の列 {d_k}k 〜 {d_k}k + {d_k - 1} (数は増えない: {heads} × {d_k} = {hidden})",
        loc="left",
        fontsize=10.5,
    )
    fig.tight_layout()
    return fig
