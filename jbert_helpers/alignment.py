"""Which MeCab word each token came from: a ``word_ids`` list for the slow tokenizer.

Introduced in lesson 04-04. A fast tokenizer answers ``encoding.word_ids()``; the slow
``BertJapaneseTokenizer`` produces no Rust ``Encoding`` (the token ↔ word ↔ character map that
``word_ids()`` reads) and raises ``ValueError: word_ids() is not available
when using Python based tokenizers``. Its two stages give the answer anyway: ``tokenize`` is

* the split at special-token strings (``tokenizer.tokens_trie``, as ``PreTrainedTokenizer.tokenize``
  does), then, for each other piece, ``BertJapaneseTokenizer._tokenize``:
* ``tokenizer.word_tokenizer.tokenize(piece, never_split=tokenizer.all_special_tokens)`` (MeCab:
  words), then ``tokenizer.subword_tokenizer.tokenize(word)`` for each word (WordPiece: tokens).

:func:`word_alignment` runs those stages and records, for every token, the index of its word.
It checks that the tokens it rebuilt are exactly ``tokenizer.tokenize(text)``, so it never
returns an alignment of other tokens than the model gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import TextAlignmentError, TextCheckError


@dataclass(frozen=True)
class WordAlignment:
    """The words of a text, its tokens and, per token, the index of the word it came from.

    ``word_ids[i]`` is the index in ``words`` of ``tokens[i]``'s word, like a fast tokenizer's
    ``encoding.word_ids()`` without the special tokens; :meth:`encoded_word_ids` adds ``None`` for
    ``[CLS]`` and ``[SEP]`` so that it lines up with ``tokenizer(text)["input_ids"]``.
    """

    text: str
    words: tuple[str, ...]
    tokens: tuple[str, ...]
    word_ids: tuple[int, ...]

    def tokens_of(self, word_index: int) -> list[str]:
        """The tokens of word ``word_index`` (WordPiece's split of that one word)."""
        return [t for t, w in zip(self.tokens, self.word_ids, strict=True) if w == word_index]

    def encoded_word_ids(self) -> list[int | None]:
        """``word_ids`` for ``tokenizer(text)["input_ids"]`` (no truncation): ``None`` at ``[CLS]``/``[SEP]``."""
        return [None, *self.word_ids, None]

    def __str__(self) -> str:
        lines = [f"語 {len(self.words)} 個 → トークン {len(self.tokens)} 個"]
        for i, word in enumerate(self.words):
            lines.append(f"  語 {i:>2} {word!r:<12} → {self.tokens_of(i)}")
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython display
        p.text(str(self))


def word_alignment(tokenizer: Any, text: str) -> WordAlignment:
    """Run the slow tokenizer's two stages on ``text`` and keep, per token, the index of its word.

    Words are MeCab's words (``tokenizer.word_tokenizer``), in order; a special-token string typed
    in the text (``[MASK]``) is one word of its own, as ``tokenize`` keeps it whole. Raises
    :class:`~jbert_helpers.errors.TextCheckError` when ``tokenizer`` does not do both stages
    (no ``word_tokenizer``/``subword_tokenizer``, or ``do_word_tokenize``/``do_subword_tokenize`` off) or ``text`` is not a ``str``, and :class:`~jbert_helpers.errors.TextAlignmentError`
    if the rebuilt tokens are not ``tokenizer.tokenize(text)``.

    Example::

        >>> from transformers import BertJapaneseTokenizer
        >>> from jbert_helpers.standin import ensure_standin
        >>> tokenizer = BertJapaneseTokenizer.from_pretrained(str(ensure_standin()), mecab_kwargs={"mecab_dic": "ipadic"})
        >>> a = word_alignment(tokenizer, "マシーンラーニングの勉強")
        >>> a.words
        ('マシーンラーニング', 'の', '勉強')
        >>> list(zip(a.tokens, a.word_ids))
        [('マ', 0), ('##シーン', 0), ('##ラー', 0), ('##ニング', 0), ('の', 1), ('勉強', 2)]
        >>> a.encoded_word_ids()
        [None, 0, 0, 0, 0, 1, 2, None]
    """
    if isinstance(tokenizer, str) or not all(
        hasattr(tokenizer, a) for a in ("word_tokenizer", "subword_tokenizer", "tokens_trie", "tokenize")
    ):
        raise TextCheckError(
            "word_alignment には BertJapaneseTokenizer (MeCab → WordPiece の遅いトークナイザ) を渡してください "
            f"(渡されたのは {type(tokenizer).__name__})。引数の順は word_alignment(tokenizer, text) です。"
            " 速いトークナイザなら tokenizer(text).word_ids() が使えます。"
        )
    if not isinstance(text, str):
        raise TextCheckError(
            f"text には文字列 (str) を 1 つ渡してください (渡されたのは {type(text).__name__})。"
            "バッチは 1 文ずつ word_alignment に渡します。"
        )
    if not getattr(tokenizer, "do_word_tokenize", True) or not getattr(tokenizer, "do_subword_tokenize", True):
        raise TextCheckError(
            "この tokenizer は 2 段 (語 → サブワード) の片方を使わない設定です "
            "(do_word_tokenize / do_subword_tokenize)。word_alignment は 2 段ともある tokenizer だけを扱います。"
        )
    specials = set(tokenizer.all_special_tokens) | set(getattr(tokenizer, "_added_tokens_encoder", {}))
    pieces = [text] if getattr(tokenizer, "split_special_tokens", False) else tokenizer.tokens_trie.split(text)
    words: list[str] = []
    tokens: list[str] = []
    word_ids: list[int] = []
    for piece in pieces:
        if not piece:
            continue
        if piece in specials and not getattr(tokenizer, "split_special_tokens", False):
            stage_words, split = [piece], lambda w: [w]
        else:
            stage_words = tokenizer.word_tokenizer.tokenize(piece, never_split=tokenizer.all_special_tokens)
            split = tokenizer.subword_tokenizer.tokenize
        for word in stage_words:
            for token in split(word):
                tokens.append(token)
                word_ids.append(len(words))
            words.append(word)
    expected = tokenizer.tokenize(text)
    if tokens != expected:
        raise TextAlignmentError(
            f"2 段を順に実行したトークン {tokens} が tokenizer.tokenize の結果 {expected} と違います"
            " (lstrip/rstrip 付きの追加トークンなど、この関数の知らない設定です)。"
        )
    return WordAlignment(text, tuple(words), tuple(tokens), tuple(word_ids))
