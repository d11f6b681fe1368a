"""The encoding checker: what must hold for every row a BERT tokenizer produces.

For a single sentence ``[CLS] A [SEP] [PAD]…`` and a pair ``[CLS] A [SEP] B [SEP] [PAD]…``
(right padding, as transformers pads by default):

* ``[CLS]`` at position 0 and nowhere else;
* ``[SEP]`` at effective length − 1 (the effective length is the number of non-``[PAD]`` tokens);
  one more ``[SEP]`` in a pair, ending sentence A;
* ``[PAD]`` only after the last ``[SEP]``;
* ``attention_mask`` is 1 exactly on the non-``[PAD]`` positions;
* ``token_type_ids`` is 0 on ``[CLS] A [SEP]`` and on padding, 1 on ``B [SEP]``;
* the length is at most the model's 512 positions.

:func:`check_encoding` takes one encoding or a batch, as lists or tensors on any device, and
returns a per-row :class:`EncodingReport`, or raises :class:`~jbert_helpers.errors.EncodingError`
naming the row, the position and the fix. Introduced in lesson 04-13, used again in 04-16.

Example::

    >>> report = check_encoding({"input_ids": [2, 11475, 3, 0], "attention_mask": [1, 1, 1, 0]})
    >>> print(report)
    row  kind    length  effective  [CLS]  [SEP]  [PAD]  segments
      0  single       4          3      0      2      1  A=3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import EncodingError

#: Special ids of the Tohoku vocabulary (the tokenizer is the source of truth; these are its values).
CLS_ID, SEP_ID, PAD_ID = 2, 3, 0
MAX_POSITIONS = 512


@dataclass(frozen=True)
class RowReport:
    """What the checker found in one row."""

    row: int
    kind: str  # "single" or "pair"
    length: int
    effective_length: int
    cls_position: int
    sep_positions: tuple[int, ...]
    pad_count: int
    segment_a: int  # tokens with token_type_id 0 before the padding ([CLS] A [SEP])
    segment_b: int  # tokens with token_type_id 1 (B [SEP]); 0 for a single sentence


@dataclass(frozen=True)
class EncodingReport:
    """The per-row report of :func:`check_encoding`; prints as a small table."""

    rows: tuple[RowReport, ...]

    def __str__(self) -> str:
        lines = ["row  kind    length  effective  [CLS]  [SEP]  [PAD]  segments"]
        for r in self.rows:
            seps = ",".join(str(p) for p in r.sep_positions)
            seg = f"A={r.segment_a}" + (f" B={r.segment_b}" if r.kind == "pair" else "")
            lines.append(
                f"{r.row:>3}  {r.kind:<6}  {r.length:>6}  {r.effective_length:>9}  "
                f"{r.cls_position:>5}  {seps:>5}  {r.pad_count:>5}  {seg}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython display
        p.text(str(self))


def _to_rows(value: object, key: str) -> tuple[list[list[int]], bool]:
    """Lists of ints per row, and whether the input was a single (1-D) encoding."""
    try:
        import torch

        if isinstance(value, torch.Tensor):
            if value.dtype.is_floating_point or value.dtype == torch.bool or value.is_complex():
                raise EncodingError(
                    f"{key} の dtype が {value.dtype} です。ID とマスクは整数 (torch.long) のはずです: "
                    f"tokenizer(..., return_tensors='pt') の出力をそのまま渡してください。"
                )
            if value.dim() not in (1, 2):
                raise EncodingError(
                    f"{key} は 1 次元 (1 文) か 2 次元 (バッチ) のはずですが、形状 {tuple(value.shape)} です。"
                )
            value = value.detach().cpu().tolist()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "iu":
                raise EncodingError(f"{key} の dtype が {value.dtype} です。整数の配列を渡してください。")
            value = value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise EncodingError(
            f"{key} は整数のリスト (1 文) か、そのリスト (バッチ) のはずですが、{type(value).__name__} です。"
        )
    if len(value) == 0:
        raise EncodingError(f"{key} が空です (空のバッチ)。少なくとも 1 文を符号化してください。")
    single = all(not isinstance(v, (Sequence,)) or isinstance(v, (str, bytes)) for v in value)
    rows = [list(value)] if single else [list(r) if isinstance(r, Sequence) else r for r in value]
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise EncodingError(
                f"{key} の行 {i} がリストではありません ({type(row).__name__})。全行を同じ形にしてください。"
            )
        for j, x in enumerate(row):
            if isinstance(x, bool) or not isinstance(x, int):
                raise EncodingError(
                    f"{key} の行 {i}、位置 {j} が整数ではありません ({x!r}, {type(x).__name__})。"
                    "ID とマスクは整数です。"
                )
    return rows, single


def _get(encoding: Mapping[str, object], key: str) -> object | None:
    try:
        return encoding[key]
    except KeyError:
        return None


def check_encoding(
    encoding: Mapping[str, object],
    *,
    cls_id: int = CLS_ID,
    sep_id: int = SEP_ID,
    pad_id: int = PAD_ID,
    max_positions: int = MAX_POSITIONS,
) -> EncodingReport:
    """Check every row of ``encoding`` (see the module docstring) and return the report.

    ``encoding`` is what ``tokenizer(...)`` returns (a ``BatchEncoding`` or a dict) with
    ``input_ids`` and optionally ``attention_mask`` and ``token_type_ids``: one sentence or a
    batch, lists or tensors on any device. Pass the tokenizer's ids
    (``cls_id=tokenizer.cls_token_id`` …) for another vocabulary.

    Raises :class:`~jbert_helpers.errors.EncodingError` on the first violation, naming the
    row, the position and the fix.
    """
    if not isinstance(encoding, Mapping):
        raise EncodingError(
            f"tokenizer(...) が返す辞書 (BatchEncoding) を渡してください。渡されたのは {type(encoding).__name__} です。"
        )
    ids_value = _get(encoding, "input_ids")
    if ids_value is None:
        raise EncodingError(
            f"'input_ids' がありません (キー: {sorted(encoding)})。tokenizer(text) の結果をそのまま渡してください。"
        )
    ids_rows, single = _to_rows(ids_value, "input_ids")
    others: dict[str, list[list[int]]] = {}
    for key in ("attention_mask", "token_type_ids"):
        value = _get(encoding, key)
        if value is None:
            continue
        rows, other_single = _to_rows(value, key)
        if other_single != single or len(rows) != len(ids_rows):
            raise EncodingError(
                f"{key} の行数 ({len(rows)}) が input_ids ({len(ids_rows)}) と違います。同じ tokenizer 呼び出しの出力を組にしてください。"
            )
        others[key] = rows
    reports = [
        _check_row(
            i,
            ids,
            others.get("attention_mask", [None] * len(ids_rows))[i],
            others.get("token_type_ids", [None] * len(ids_rows))[i],
            cls_id=cls_id,
            sep_id=sep_id,
            pad_id=pad_id,
            max_positions=max_positions,
        )
        for i, ids in enumerate(ids_rows)
    ]
    return EncodingReport(tuple(reports))


def _fail(row: int, position: int | None, what: str, fix: str) -> EncodingError:
    where = f"行 {row}" + (f"、位置 {position}" if position is not None else "")
    return EncodingError(f"{where}: {what}。修正: {fix}")


def _check_row(
    row: int,
    ids: list[int],
    mask: list[int] | None,
    types: list[int] | None,
    *,
    cls_id: int,
    sep_id: int,
    pad_id: int,
    max_positions: int,
) -> RowReport:
    n = len(ids)
    if n > max_positions:
        raise _fail(
            row,
            None,
            f"系列長 {n} がモデルの位置数 {max_positions} を超えています",
            f"tokenizer(..., truncation=True, max_length={max_positions}) で切り詰めてください",
        )
    if n < 2:
        raise _fail(
            row,
            None,
            f"系列長 {n}: [CLS] と [SEP] の入る長さがありません",
            "add_special_tokens=True (既定) で符号化し、max_length は 2 以上にしてください",
        )
    if ids[0] != cls_id:
        raise _fail(
            row,
            0,
            f"先頭が [CLS] (id {cls_id}) ではなく id {ids[0]} です",
            "add_special_tokens=False を外してください (既定の True で [CLS]/[SEP] が付きます)。"
            "左パディング (padding_side='left') なら右パディングに戻してください",
        )
    effective = n
    while effective > 0 and ids[effective - 1] == pad_id:
        effective -= 1
    for j in range(effective):
        if ids[j] == pad_id:
            raise _fail(
                row,
                j,
                f"[PAD] (id {pad_id}) が [SEP] より前、文の途中にあります",
                "[PAD] は末尾にだけ置きます: ID 列を手で編集せず tokenizer(..., padding=...) に任せてください",
            )
    if ids[effective - 1] != sep_id:
        raise _fail(
            row,
            effective - 1,
            f"有効長 {effective} の最後 (位置 {effective - 1}) が [SEP] (id {sep_id}) ではなく id {ids[effective - 1]} です",
            "[SEP] を切り落とさないよう tokenizer(..., truncation=True) で切り詰めてください (手で切ると [SEP] が消えます)",
        )
    for j in range(1, effective):
        if ids[j] == cls_id:
            raise _fail(
                row,
                j,
                "[CLS] が先頭以外にもあります",
                "[CLS] は先頭の 1 つだけ: 特殊トークンは tokenizer に付けさせてください",
            )
    seps = tuple(j for j in range(effective) if ids[j] == sep_id)
    if len(seps) > 2:
        raise _fail(
            row,
            seps[2],
            f"[SEP] が {len(seps)} 個あります (1 文なら 1 個、文対なら 2 個)",
            "文対は tokenizer(文A, 文B) で作ってください",
        )
    kind = "pair" if len(seps) == 2 else "single"
    if mask is not None:
        if len(mask) != n:
            raise _fail(
                row,
                None,
                f"attention_mask の長さ {len(mask)} が input_ids の長さ {n} と違います",
                "input_ids と attention_mask は同じ tokenizer 呼び出しの出力を使ってください",
            )
        for j, m in enumerate(mask):
            expected = 0 if j >= effective else 1
            if m != expected:
                what = "[PAD] なのに 1" if expected == 0 else "実トークンなのに 0"
                raise _fail(
                    row,
                    j,
                    f"attention_mask が {m} です ({what})",
                    "attention_mask は [PAD] の位置だけ 0、それ以外は 1: tokenizer の出力を書き換えないでください",
                )
    seg_a, seg_b = seps[0] + 1, effective - seps[0] - 1
    if types is not None:
        if len(types) != n:
            raise _fail(
                row,
                None,
                f"token_type_ids の長さ {len(types)} が input_ids の長さ {n} と違います",
                "同じ tokenizer 呼び出しの出力を使ってください",
            )
        for j, t in enumerate(types):
            expected = 1 if seps[0] < j < effective else 0
            if t != expected:
                part = (
                    "文 B ([SEP] の後)"
                    if expected == 1
                    else ("[PAD]" if j >= effective else "文 A ([CLS] から最初の [SEP] まで)")
                )
                raise _fail(
                    row,
                    j,
                    f"token_type_ids が {t} ですが、{part} なので {expected} のはずです",
                    "文対は tokenizer(文A, 文B, return_token_type_ids=True) で作ると文 A=0、文 B=1 が付きます",
                )
    return RowReport(row, kind, n, effective, 0, seps, n - effective, seg_a, seg_b if kind == "pair" else 0)
