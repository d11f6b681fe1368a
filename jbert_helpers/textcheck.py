"""The text checker: which characters of a text did not make it into its encoding, where, and why.

Introduced in lesson 04-13a. ``BertJapaneseTokenizer`` changes real-world text without a word:

* **dropped** — MeCab reads the text as a C string, so at a NUL (``"\\x00"``) it stops and the
  rest of the text is lost: ``tokenizer.tokenize("前半\\x00後半の文章")`` is ``['前半']``;
* **[UNK]** — a word with a character outside the vocabulary (a zero-width space, an emoji, the
  non-BMP kanji 𠮷, a control character) becomes ``[UNK]`` as a whole word (lesson 04-06);
* **normalized** — NFKC rewrites characters before MeCab sees them: ｶﾀｶﾅ → カタカナ,
  ２０２４ → 2024, ㍿ → 株式会社 (the model sees the new form, ``decode`` gives it back);
* **special** — the strings ``[CLS]``, ``[SEP]``, ``[PAD]``, ``[UNK]``, ``[MASK]`` typed in the text
  become the control tokens (``[SEP]`` = id 3 in mid-sentence) unless the tokenizer is called with
  ``split_special_tokens=True``;
* **truncated** — ``truncation=True, max_length=…`` cut the tokens that carried these characters.

:func:`check_text` re-runs the tokenizer's own stages one at a time — the split at special-token
strings, NFKC, MeCab (``tokenizer.word_tokenizer``), WordPiece (``tokenizer.subword_tokenizer``) —
and keeps, for every token, the characters of the original text it came from (the offsets that a
slow tokenizer does not return). It checks that the tokens it rebuilt are exactly
``tokenizer.tokenize(text)`` and that the encoding's ids are those tokens' ids (perhaps cut by
truncation and padded), then reports every character that did not survive as a
:class:`TextFinding` (position, characters, what they became, reason). Positions are indices of
the Python ``str`` (code points: 𠮷 is one position). Whitespace (spaces, tabs, newlines, U+3000)
is deliberately not reported: MeCab and WordPiece treat it as a separator, so it never becomes a
token, and reporting it would mark every spaced text. A space can still change where words split
(``外国人参政権`` → ``外国 人 ##参 政権``, ``外国人 参政権`` → ``外国 人 参政 権``): ``ok`` means
"no character lost or changed, whitespace aside" (lesson 04-13a shows both).

Example::

    >>> from transformers import BertJapaneseTokenizer
    >>> from jbert_helpers.standin import ensure_standin
    >>> tokenizer = BertJapaneseTokenizer.from_pretrained(str(ensure_standin()), mecab_kwargs={"mecab_dic": "ipadic"})
    >>> report = check_text(tokenizer, "前半\\x00後半の文章")
    >>> print(report)
    文 '前半\\x00後半の文章' (8 文字) → トークン 1 個、見つかったもの 1 件
    位置 2-7     '\\x00後半の文章'  消えた (dropped) → (なし): NUL 文字 (U+0000) で MeCab が解析をやめたため、ここから先 (6 文字) が捨てられた
    >>> [(f.start, f.reason) for f in check_text(tokenizer, "ｶﾀｶﾅと𠮷").findings]
    [(0, 'normalized'), (5, 'unk')]
    >>> check_text(tokenizer, "明日は晴れ。").ok
    True
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import EncodingError, EncodingMismatchError, TextAlignmentError, TextCheckError
from .saved import WordPieceStep, wordpiece_tokenize

#: The reasons a character can fail to survive, in the order the checker gives them precedence
#: (a character cut by truncation is reported as truncated even if it had also become [UNK]).
REASONS: tuple[str, ...] = ("dropped", "truncated", "special", "unk", "normalized")
REASON_LABELS = {
    "dropped": "消えた (dropped)",
    "truncated": "切り詰め (truncated)",
    "special": "特殊トークン (special)",
    "unk": "[UNK] になった (unk)",
    "normalized": "NFKC で変わった (normalized)",
}
_NUL = "\x00"


@dataclass(frozen=True)
class TextFinding:
    """Characters ``text[start:end]`` that did not survive as they were, and why.

    ``became`` is what the model gets instead: ``""`` (nothing: dropped or truncated), the unknown
    token, the NFKC form (``"カタカナ"``), or the special token with its id (``"[CLS] (id 2)"``).
    ``reason`` is one of :data:`REASONS`; ``detail`` explains it in Japanese.
    """

    start: int
    end: int
    original: str
    became: str
    reason: str
    detail: str

    def __str__(self) -> str:
        where = f"位置 {self.start}" if self.end - self.start == 1 else f"位置 {self.start}-{self.end - 1}"
        became = self.became if self.became else "(なし)"
        return f"{where:<10} {self.original!r}  {REASON_LABELS[self.reason]} → {became}: {self.detail}"


@dataclass(frozen=True)
class TokenSpan:
    """One token of the text (special tokens added by the encoding excluded) and the characters
    ``text[start:end]`` it came from: the offsets a slow tokenizer does not return."""

    token: str
    id: int
    start: int
    end: int


@dataclass(frozen=True)
class TextReport:
    """What :func:`check_text` found: ``findings`` (empty when every character survived), the
    text's ``tokens`` with their character spans, and how many of them the encoding ``kept``."""

    text: str
    tokens: tuple[TokenSpan, ...]
    kept: int
    findings: tuple[TextFinding, ...]
    split_special_tokens: bool

    @property
    def ok(self) -> bool:
        """True when no character was lost or changed (whitespace aside)."""
        return not self.findings

    def characters(self) -> list[tuple[int, str, str]]:
        """Every character that did not survive, one by one: ``(position, character, reason)``."""
        return [(i, self.text[i], f.reason) for f in self.findings for i in range(f.start, f.end)]

    def reasons(self) -> list[str]:
        """The reason of each finding, in text order."""
        return [f.reason for f in self.findings]

    def __str__(self) -> str:
        head = f"文 {self.text!r} ({len(self.text)} 文字) → トークン {self.kept} 個"
        if len(self.tokens) != self.kept:
            head += f" (元は {len(self.tokens)} 個)"
        if not self.findings:
            return head + "、すべての文字が残りました"
        lines = [head + f"、見つかったもの {len(self.findings)} 件"]
        lines += [str(f) for f in self.findings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython display
        p.text(str(self))


# --- the stages, re-run with positions --------------------------------------------------------


@dataclass(eq=False)  # units are compared and hashed by identity
class _Unit:
    """A run of original characters that NFKC normalises together (a character and the combining
    or half-width voicing marks after it), with its normalised form and its fate."""

    start: int
    end: int
    norm: str
    fate: str | None = None  # one of REASONS, or "space" (whitespace, not reported), or None
    group: object = None  # findings merge consecutive units of one group and one fate
    became: str = ""
    detail: str = ""
    word: object = None  # the MeCab word it belongs to (normalised characters merge per word)


def _starts_unit(ch: str, normalize: bool) -> bool:
    if not normalize:
        return True
    nf = unicodedata.normalize("NFKC", ch)
    return not nf or unicodedata.combining(nf[0]) == 0


def _units(piece: str, base: int, normalize: bool, lower: bool) -> list[_Unit]:
    """Split ``piece`` (at ``base`` in the text) into units whose normal forms concatenate to the
    normal form of the whole piece, which is what the word tokenizer sees."""
    bounds = [i for i, ch in enumerate(piece) if i == 0 or _starts_unit(ch, normalize)] + [len(piece)]

    def form(s: str) -> str:
        s = unicodedata.normalize("NFKC", s) if normalize else s
        return s.lower() if lower else s

    units = [_Unit(base + a, base + b, form(piece[a:b])) for a, b in zip(bounds, bounds[1:], strict=False)]
    if "".join(u.norm for u in units) != form(piece):  # composition across units (rare): one unit
        units = [_Unit(base, base + len(piece), form(piece))]
    return units


def _is_space(s: str) -> bool:
    return bool(s) and all(ch.isspace() for ch in s)


def _why_unk(word: str, subword: Any) -> str:
    """Why WordPiece made ``word`` one unknown token: replay its search (lesson 04-05)."""
    limit = getattr(subword, "max_input_chars_per_word", 100)
    if len(word) > limit:
        return f"語が {len(word)} 文字で max_input_chars_per_word={limit} より長い"
    steps: list[WordPieceStep] = []
    wordpiece_tokenize(word, subword.vocab, subword.unk_token, limit, steps)
    failed = next((step for step in steps if step.match is None), None)
    if failed is None:  # pragma: no cover - WordPiece gave the unknown token, so a step failed
        return "WordPiece が語を分割できない"
    ch = word[failed.start]
    if len(word) == 1:
        return f"語彙にない文字 (U+{ord(ch):04X})"
    where = "語頭の" if failed.start == 0 else f"位置 {failed.start} の"
    return f"語 {word!r} 全体が {subword.unk_token}: {where} {ch!r} (U+{ord(ch):04X}) から始まる断片が語彙にない"


def _skip(owner: list[_Unit], a: int, b: int, group: object, detail: str, *, at_nul: bool = False) -> None:
    """Normalised characters ``a:b`` are in no word: dropped (whitespace only separates words,
    except after a NUL, where everything is lost)."""
    for unit in owner[a:b]:
        if unit.fate == "dropped":
            continue
        if not at_nul and _is_space(unit.norm):
            unit.fate = unit.fate or "space"
            continue
        unit.fate, unit.group, unit.became, unit.detail = "dropped", group, "", detail


def _word_tokens(word: str, at: int, owner: list[_Unit], subword: Any, group: object) -> list[tuple[str, list[_Unit]]]:
    """WordPiece on one MeCab word found at ``at`` in the normalised text: its tokens with units."""
    unk = subword.unk_token
    tokens: list[tuple[str, list[_Unit]]] = []
    for match in re.finditer(r"\S+", word):  # WordPiece splits its input at whitespace first
        sub, offset = match.group(), at + match.start()
        pieces = subword.tokenize(sub)
        if pieces == [unk]:
            why = _why_unk(sub, subword)
            sub_units = list(dict.fromkeys(owner[offset : offset + len(sub)]))
            for unit in sub_units:
                if unit.fate in (None, "space"):
                    unit.fate, unit.group, unit.became, unit.detail = "unk", (group, match.start()), unk, why
            tokens.append((unk, sub_units))
            continue
        pos = offset
        for piece in pieces:
            length = len(piece) - 2 if piece.startswith("##") and pos > offset else len(piece)
            tokens.append((piece, list(dict.fromkeys(owner[pos : pos + length]))))
            pos += length
        if pos != offset + len(sub):
            raise TextAlignmentError(
                f"WordPiece の断片 {pieces} をつないでも語 {sub!r} になりません。"
                f" / The pieces {pieces} do not spell the word {sub!r}."
            )
    return tokens


def _rebuild_piece(
    tokenizer: Any, text: str, base: int, piece: str, number: int
) -> tuple[list[_Unit], list[tuple[str, list[_Unit]]]]:
    """NFKC, MeCab and WordPiece on ``piece`` (a part of the text without special tokens, at ``base``)."""
    word_tokenizer, subword = tokenizer.word_tokenizer, tokenizer.subword_tokenizer
    normalize = bool(getattr(word_tokenizer, "normalize_text", False))
    lower = bool(getattr(word_tokenizer, "do_lower_case", False))
    units = _units(piece, base, normalize, lower)
    norm = "".join(u.norm for u in units)
    owner = [u for u in units for _ in u.norm]  # normalised character -> its unit
    tokens: list[tuple[str, list[_Unit]]] = []
    cursor = 0
    for w_index, word in enumerate(word_tokenizer.tokenize(piece, never_split=tokenizer.all_special_tokens)):
        at = norm.find(word, cursor)
        if at < 0:
            raise TextAlignmentError(
                f"語 {word!r} が正規化した文の中に見つかりません: この tokenizer の語分割は MeCab の表層形ではないようです。"
                f" / Word {word!r} is not a substring of the normalised text."
            )
        _skip(owner, cursor, at, ("dropped", number, cursor), "MeCab の出力に現れなかった")
        for unit in owner[at : at + len(word)]:
            unit.word = unit.word or (number, w_index)
        tokens += _word_tokens(word, at, owner, subword, ("unk", number, w_index))
        cursor = at + len(word)
    nul = norm.find(_NUL, cursor)  # MeCab reads a C string: it stops at the first NUL
    if nul >= 0:
        _skip(owner, cursor, nul, ("dropped", number, cursor), "MeCab の出力に現れなかった")
        lost = base + len(piece) - owner[nul].start
        _skip(
            owner,
            nul,
            len(norm),
            ("dropped", number, nul),
            f"NUL 文字 (U+0000) で MeCab が解析をやめたため、ここから先 ({lost} 文字) が捨てられた",
            at_nul=True,
        )
    else:
        _skip(owner, cursor, len(norm), ("dropped", number, cursor), "MeCab の出力に現れなかった")
    for unit in units:
        original = text[unit.start : unit.end]
        if unit.fate is None and unit.norm != original and not _is_space(original):
            unit.fate, unit.group, unit.became = "normalized", ("normalized", unit.word), unit.norm
            unit.detail = "NFKC 正規化 (MeCab の前に tokenizer が行う)"
    return units, tokens


def _rebuild(
    tokenizer: Any, text: str, split_special_tokens: bool
) -> tuple[list[_Unit], list[tuple[str, list[_Unit]]]]:
    """Re-run the tokenizer's stages on ``text``: its units (with fates) and its tokens, each with
    the units it came from. The first stage splits the text at special-token strings, as
    ``PreTrainedTokenizer.tokenize`` does (unless ``split_special_tokens``)."""
    specials = set(tokenizer.all_special_tokens) | set(getattr(tokenizer, "_added_tokens_encoder", {}))
    pieces = [text] if split_special_tokens else tokenizer.tokens_trie.split(text)
    if "".join(pieces) != text:
        raise TextAlignmentError(
            "特殊トークンでの分割結果がつながっても元の文になりません (lstrip/rstrip 付きの追加トークン?)。"
            " / The split at special tokens does not concatenate back to the text."
        )
    all_units: list[_Unit] = []
    tokens: list[tuple[str, list[_Unit]]] = []
    base = 0
    for number, piece in enumerate(pieces):
        if piece and not split_special_tokens and piece in specials:
            token_id = tokenizer.convert_tokens_to_ids(piece)
            unit = _Unit(
                base,
                base + len(piece),
                piece,
                "special",
                ("special", number),
                f"{piece} (id {token_id})",
                f"文中の文字列 {piece} が制御用の特殊トークン (id {token_id}) になった。"
                "文字として残すには tokenizer(..., split_special_tokens=True)",
            )
            all_units.append(unit)
            tokens.append((piece, [unit]))
        elif piece:
            units, piece_tokens = _rebuild_piece(tokenizer, text, base, piece, number)
            all_units += units
            tokens += piece_tokens
        base += len(piece)
    return all_units, tokens


# --- the encoding -----------------------------------------------------------------------------


def _ids_of(encoding: object) -> list[int] | None:
    """The one row of ids (and only the positions the attention mask marks, if there is one)."""
    if encoding is None:
        return None
    from .invariants import _to_rows

    mask_rows = None
    try:
        if isinstance(encoding, Mapping):
            if "input_ids" not in encoding:
                raise TextCheckError(
                    f"'input_ids' がありません (キー: {sorted(encoding)})。tokenizer(text) の結果をそのまま渡してください。"
                    " / Pass what tokenizer(text) returned."
                )
            rows, _ = _to_rows(encoding["input_ids"], "input_ids")
            if "attention_mask" in encoding:
                mask_rows, _ = _to_rows(encoding["attention_mask"], "attention_mask")
        else:
            rows, _ = _to_rows(encoding, "input_ids")
    except EncodingError as error:
        raise TextCheckError(str(error)) from error
    if len(rows) != 1:
        raise TextCheckError(
            f"check_text は 1 つの文とその符号化 1 行を調べます (渡されたのは {len(rows)} 行)。"
            "バッチは for text, ids in zip(texts, enc['input_ids']): check_text(tokenizer, text, ids) のように 1 行ずつ。"
            " / Check one text and one row at a time."
        )
    ids = rows[0]
    if mask_rows is not None and len(mask_rows) == 1 and len(mask_rows[0]) == len(ids):
        return [i for i, m in zip(ids, mask_rows[0], strict=True) if m]
    return ids


def _kept(ids: list[int], expected: list[int], tokenizer: Any) -> int | None:
    """How many of the ``expected`` token ids ``ids`` keeps, or None if ``ids`` is not their encoding.

    ``ids`` may be ``[CLS]`` + a prefix of ``expected`` + ``[SEP]`` (``truncation=True``) or the
    prefix alone (``add_special_tokens=False``), padded with ``[PAD]`` on the right or the left.
    Each possible amount of padding is tried, the least first (a ``[PAD]`` typed in the text is
    then kept as the text's own)."""
    cls_id, sep_id, pad_id = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    right = len(ids)
    his = [right]
    while right > 0 and ids[right - 1] == pad_id:
        right -= 1
        his.append(right)
    for hi in his:
        los = [0]
        while los[-1] < hi and ids[los[-1]] == pad_id:
            los.append(los[-1] + 1)
        for lo in los:
            body = ids[lo:hi]
            contents = [body[1:-1]] if len(body) >= 2 and body[0] == cls_id and body[-1] == sep_id else []
            for content in [*contents, body]:
                if content == expected[: len(content)]:
                    return len(content)
    return None


# --- the checker --------------------------------------------------------------------------------


def check_text(
    tokenizer: Any,
    text: str,
    encoding: object = None,
    *,
    split_special_tokens: bool | None = None,
) -> TextReport:
    """Report every character of ``text`` that did not survive into ``encoding``, with its reason.

    ``tokenizer`` is a slow ``BertJapaneseTokenizer`` (MeCab words, then WordPiece). ``encoding``
    is what ``tokenizer(text, ...)`` returned for this one text — a ``BatchEncoding``/dict with
    ``input_ids`` (and ``attention_mask``), or the ids themselves, as a list or a tensor, possibly
    truncated and padded; ``None`` checks ``tokenizer(text)`` itself (nothing truncated).
    ``split_special_tokens`` says how the encoding was made; ``None`` tries the tokenizer's setting
    first, then the other one.

    Returns a :class:`TextReport`. Raises :class:`~jbert_helpers.errors.TextCheckError` for input
    it cannot check (the message says what to pass), its subclass
    :class:`~jbert_helpers.errors.EncodingMismatchError` when the encoding is not this text's, and
    :class:`~jbert_helpers.errors.TextAlignmentError` when the tokenizer's stages are not the ones
    this checker re-runs. Introduced in lesson 04-13a.

    Example::

        >>> from transformers import BertJapaneseTokenizer
        >>> from jbert_helpers.standin import ensure_standin
        >>> tokenizer = BertJapaneseTokenizer.from_pretrained(str(ensure_standin()), mecab_kwargs={"mecab_dic": "ipadic"})
        >>> text = "文[SEP]の途中"
        >>> [(f.start, f.original, f.became) for f in check_text(tokenizer, text).findings]
        [(1, '[SEP]', '[SEP] (id 3)')]
        >>> check_text(tokenizer, text, tokenizer(text, split_special_tokens=True)).ok
        True
        >>> enc = tokenizer("明日の天気は晴れだ。", max_length=6, truncation=True)
        >>> [(f.start, f.original, f.reason) for f in check_text(tokenizer, "明日の天気は晴れだ。", enc).findings]
        [(6, '晴れだ。', 'truncated')]
    """
    if isinstance(tokenizer, str) or not all(
        hasattr(tokenizer, a) for a in ("word_tokenizer", "subword_tokenizer", "tokens_trie")
    ):
        raise TextCheckError(
            f"tokenizer には BertJapaneseTokenizer (MeCab → WordPiece の遅いトークナイザ) を渡してください "
            f"(渡されたのは {type(tokenizer).__name__})。引数の順は check_text(tokenizer, text, encoding) です。"
            " 速いトークナイザなら return_offsets_mapping=True で位置が分かります。"
            " / Pass a slow BertJapaneseTokenizer first."
        )
    if not isinstance(text, str):
        raise TextCheckError(
            f"text には文字列 (str) を 1 つ渡してください (渡されたのは {type(text).__name__})。"
            "文対やバッチは 1 文ずつ調べます。 / Pass one text as a str."
        )
    if not hasattr(tokenizer.subword_tokenizer, "vocab") or not getattr(tokenizer, "do_word_tokenize", True):
        raise TextCheckError(
            "check_text は MeCab (word_tokenizer) と WordPiece (subword_tokenizer) の 2 段の tokenizer だけを調べます。"
            " / Only a word tokenizer followed by WordPiece can be checked."
        )
    ids = _ids_of(encoding)
    default = bool(getattr(tokenizer, "split_special_tokens", False))
    options = [split_special_tokens] if split_special_tokens is not None else [default, not default]
    first: list[str] | None = None
    for option in options:
        units, tokens = _rebuild(tokenizer, text, option)
        rebuilt = [t for t, _ in tokens]
        actual = tokenizer.tokenize(text, split_special_tokens=option)
        if rebuilt != actual:
            raise TextAlignmentError(
                f"段ごとに再実行したトークン {rebuilt} が tokenizer.tokenize の結果 {actual} と違います。"
                " / Re-running the stages does not reproduce tokenizer.tokenize."
            )
        first = rebuilt if first is None else first
        expected_ids = tokenizer.convert_tokens_to_ids(rebuilt)
        kept = len(rebuilt) if ids is None else _kept(ids, expected_ids, tokenizer)
        if kept is not None:
            break
    else:
        shown = tokenizer.convert_ids_to_tokens(ids)
        raise EncodingMismatchError(
            f"この符号化 {shown} は文 {text!r} のものではありません: tokenizer(text) なら "
            f"{['[CLS]', *(first or []), '[SEP]']} (の先頭部分) のはずです。同じ文・同じ tokenizer の出力を渡してください"
            " (文対は 1 文ずつ調べます)。 / The encoding is not this text's."
        )
    for token_index in range(kept, len(tokens)):
        for unit in tokens[token_index][1]:
            unit.fate, unit.group, unit.became = "truncated", "truncated", ""
            unit.detail = f"切り詰め (truncation): 文のトークン {len(tokens)} 個のうち先頭の {kept} 個だけが残った"
    spans = tuple(
        TokenSpan(t, i, min(u.start for u in us), max(u.end for u in us)) if us else TokenSpan(t, i, 0, 0)
        for (t, us), i in zip(tokens, expected_ids, strict=True)
    )
    return TextReport(text, spans, kept, tuple(_findings(text, units)), option)


def _findings(text: str, units: list[_Unit]) -> list[TextFinding]:
    findings: list[TextFinding] = []
    open_: list[_Unit] = []
    gap: list[_Unit] = []  # whitespace between two truncated units joins them

    def close() -> None:
        if open_:
            first, last = open_[0], open_[-1]
            became = "".join(u.became for u in open_) if first.fate == "normalized" else first.became
            findings.append(
                TextFinding(first.start, last.end, text[first.start : last.end], became, first.fate or "", first.detail)
            )
        open_.clear()

    for unit in units:
        if unit.fate in (None, "space"):
            if unit.fate == "space" and open_ and open_[0].fate == "truncated":
                gap.append(unit)
                continue
            close()
            gap.clear()
            continue
        if open_ and (unit.fate, unit.group) == (open_[0].fate, open_[0].group):
            open_.extend(gap)
        else:
            close()
        gap.clear()
        open_.append(unit)
    close()
    return findings
