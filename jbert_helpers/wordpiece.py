"""WordPiece, step by step: how one word becomes subword pieces (greedy longest-match-first).

Introduced in lesson 04-05. ``BertJapaneseTokenizer`` first splits a sentence into words with
MeCab (``tokenizer.word_tokenizer``), then splits each word with WordPiece
(``tokenizer.subword_tokenizer``; Schuster & Nakajima 2012, Wu et al. 2016). The library only
returns the pieces; :func:`trace_wordpiece` replays the same search and keeps every candidate it
tried, so a lesson can show *why* the pieces are what they are. Its pieces are the library's
(``tests/test_wordpiece.py`` checks that against ``tokenizer.subword_tokenizer.tokenize``).

The rule, as transformers' ``WordpieceTokenizer`` applies it to one word:

* start at character 0; try the longest rest of the word first, then one character shorter, …;
  a candidate that does not begin the word is looked up with ``##`` in front (a continuation);
* take the first candidate that is in the vocabulary and continue right after it;
* if no candidate matches at some position, the **whole word** becomes ``[UNK]``;
* a word longer than ``max_input_chars_per_word`` becomes ``[UNK]`` without any search.

Example::

    >>> vocab = {"un", "##aff", "##able"}
    >>> trace = trace_wordpiece("unaffable", vocab)
    >>> trace.pieces
    ['un', '##aff', '##able']
    >>> [step.start for step in trace]
    [0, 2, 5]
    >>> trace[1].tried
    ('##affable', '##affabl', '##affab', '##affa', '##aff')
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from .errors import WordPieceError


@dataclass(frozen=True)
class WordPieceStep:
    """One search of WordPiece: from position ``start``, the candidates tried, longest first.

    ``match`` is the vocabulary entry found (with ``##`` when it continues the word), or the
    unknown token when nothing matched (then ``found`` is False and the search stops there).
    ``note`` says why a step was decided without a search (a word that is too long).
    """

    start: int
    tried: tuple[str, ...]
    match: str
    found: bool
    note: str = ""

    @property
    def end(self) -> int:
        """Position right after the matched piece (``start`` when nothing matched)."""
        if not self.found:
            return self.start
        return self.start + len(self.match.removeprefix("##") if self.start > 0 else self.match)


class WordPieceTrace(list[WordPieceStep]):
    """The steps of :func:`trace_wordpiece` (a list), with the word, its pieces and a printable table."""

    def __init__(self, word: str, steps: list[WordPieceStep], unk_token: str) -> None:
        super().__init__(steps)
        self.word = word
        self.unk_token = unk_token

    @property
    def pieces(self) -> list[str]:
        """The final pieces: every match, or ``[unk_token]`` if any step failed (the whole word)."""
        if any(not step.found for step in self):
            return [self.unk_token]
        return [step.match for step in self]

    def __str__(self) -> str:
        lines = [f"語「{self.word}」({len(self.word)} 文字) を WordPiece で分割 (左から、長い候補から試す)"]
        for number, step in enumerate(self, start=1):
            if step.note:
                lines.append(f"手順 {number}: {step.note} → {step.match}")
                continue
            marks = [f"✗{c}" for c in step.tried[:-1]] + [("✓" if step.found else "✗") + step.tried[-1]]
            result = step.match if step.found else f"語彙に候補なし → 語全体が {step.match}"
            lines.append(f"手順 {number}: 位置 {step.start} から {len(step.tried)} 候補 → {result}")
            lines.append("    " + " ".join(marks))
        if not self:
            lines.append("(空の語: 手順なし)")
        lines.append(f"結果: {self.pieces}")
        return "\n".join(lines)


def trace_wordpiece(
    word: str,
    vocab: Container[str],
    unk_token: str = "[UNK]",
    max_input_chars_per_word: int = 100,
) -> WordPieceTrace:
    """Split one ``word`` like ``tokenizer.subword_tokenizer.tokenize(word)``, keeping every step.

    ``vocab`` is anything that answers ``in`` (``tokenizer.vocab``). Returns a
    :class:`WordPieceTrace`: a list of :class:`WordPieceStep` with ``.pieces`` (the result) and a
    table as ``str(trace)``. Raises :class:`WordPieceError` when ``word`` is not a ``str`` or holds
    whitespace (WordPiece works on one word: split the sentence with
    ``tokenizer.word_tokenizer.tokenize`` first). Introduced in lesson 04-05.

    Example::

        >>> trace_wordpiece("abc", {"a", "##bc"}).pieces
        ['a', '##bc']
        >>> trace_wordpiece("abx", {"a", "##b"}).pieces
        ['[UNK]']
        >>> print(trace_wordpiece("ab", {"a", "##b"}))
        語「ab」(2 文字) を WordPiece で分割 (左から、長い候補から試す)
        手順 1: 位置 0 から 2 候補 → a
            ✗ab ✓a
        手順 2: 位置 1 から 1 候補 → ##b
            ✓##b
        結果: ['a', '##b']
    """
    if not isinstance(word, str):
        raise WordPieceError(
            f"word には文字列 (str) を 1 語渡してください (渡されたのは {type(word).__name__})。"
            " / Pass one word as a str."
        )
    if any(ch.isspace() for ch in word):
        raise WordPieceError(
            f"word {word!r} に空白が入っています。WordPiece は 1 語ずつ分割します: "
            "先に tokenizer.word_tokenizer.tokenize(文) で語に分け、語ごとに渡してください。"
            " / Pass one word without whitespace; split the sentence with word_tokenizer first."
        )
    if len(word) > max_input_chars_per_word:
        note = f"{len(word)} 文字 > max_input_chars_per_word={max_input_chars_per_word} なので探索せず"
        return WordPieceTrace(word, [WordPieceStep(0, (), unk_token, False, note)], unk_token)
    steps: list[WordPieceStep] = []
    start = 0
    while start < len(word):
        tried: list[str] = []
        match = None
        for end in range(len(word), start, -1):
            candidate = word[start:end] if start == 0 else "##" + word[start:end]
            tried.append(candidate)
            if candidate in vocab:
                match = candidate
                break
        if match is None:
            steps.append(WordPieceStep(start, tuple(tried), unk_token, False))
            break
        step = WordPieceStep(start, tuple(tried), match, True)
        steps.append(step)
        start = step.end
    return WordPieceTrace(word, steps, unk_token)
