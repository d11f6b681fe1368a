"""Tests of jbert_helpers.wordpiece: the trace's pieces are the library's, and the trace is right.

Expected pieces come from transformers' own ``tokenizer.subword_tokenizer`` over the real
vocabulary, from the facts table of ARCHITECTURE.md, or from hand-worked toy vocabularies.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import BertJapaneseTokenizer

from jbert_helpers.errors import JbertError
from jbert_helpers.standin import packaged_vocab
from jbert_helpers.wordpiece import WordPieceError, WordPieceStep, trace_wordpiece


@pytest.fixture(scope="module")
def tokenizer() -> BertJapaneseTokenizer:
    """The lessons' tokenizer (MeCab ipadic + WordPiece) over the real model's vocabulary."""
    return BertJapaneseTokenizer(vocab_file=str(packaged_vocab()), mecab_kwargs={"mecab_dic": "ipadic"})


WORDS = [
    "マシーンラーニング",
    "マシンラーニング",
    "ディープラーニング",
    "ラーニング",
    "自然言語処理",
    "机器学习",
    "学习",
    "习和",
    "机",
    "习",
    "しよう",
    "しよ",
    "う",
    "unaffable",
    "tokenization",
    "hello",
    "Transformers",
    "BERT",
    "ｂｅｒｔ",
    "🍣",
    "髙橋",
    "𠮷",
    "[UNK]",
    "##",
    "a",
    "",
    "あ" * 100,
    "あ" * 101,
    "x" * 250,
]


@pytest.mark.parametrize("word", WORDS)
def test_pieces_equal_library(tokenizer: BertJapaneseTokenizer, word: str) -> None:
    trace = trace_wordpiece(word, tokenizer.vocab)
    assert trace.pieces == tokenizer.subword_tokenizer.tokenize(word)


def test_every_word_of_the_lesson_sentences(tokenizer: BertJapaneseTokenizer) -> None:
    sentences = [
        "明日は自然言語処理の勉強をしよう。",
        "明日はマシンラーニングの勉強をしよう。",
        "明日はマシーンラーニングの勉強をしよう。",
        "機械学習を中国語にすると机器学习だ。",
        "今日は🍣を食べた😊。",
    ]
    for sentence in sentences:
        words = tokenizer.word_tokenizer.tokenize(sentence)
        traced = [p for w in words for p in trace_wordpiece(w, tokenizer.vocab).pieces]
        assert traced == tokenizer.tokenize(sentence)


@settings(max_examples=300, deadline=None)
@given(word=st.text(alphabet="マシーンラニグ学习机器abcあ", min_size=0, max_size=12))
def test_random_words_equal_library(tokenizer: BertJapaneseTokenizer, word: str) -> None:
    assert trace_wordpiece(word, tokenizer.vocab).pieces == tokenizer.subword_tokenizer.tokenize(word)


def test_architecture_table_facts(tokenizer: BertJapaneseTokenizer) -> None:
    # ARCHITECTURE.md, ipadic column: マシーンラーニング is one word → マ ##シーン ##ラー ##ニング
    assert trace_wordpiece("マシーンラーニング", tokenizer.vocab).pieces == ["マ", "##シーン", "##ラー", "##ニング"]
    assert trace_wordpiece("マシンラーニング", tokenizer.vocab).pieces == ["マシン", "##ラー", "##ニング"]
    # unidic_lite gives しよう as one word: しよ ##う (the seed's printed tokens)
    assert trace_wordpiece("しよう", tokenizer.vocab).pieces == ["しよ", "##う"]


def test_steps_of_machine_learning_by_hand(tokenizer: BertJapaneseTokenizer) -> None:
    word = "マシーンラーニング"
    trace = trace_wordpiece(word, tokenizer.vocab)
    assert [s.start for s in trace] == [0, 1, 4, 6]
    assert [s.end for s in trace] == [1, 4, 6, 9]
    # step 1 tries every prefix, longest first, without ##
    assert trace[0].tried == tuple(word[:k] for k in range(9, 0, -1))
    # later steps try ## + the rest, longest first, and stop at the first match
    assert trace[2].tried == ("##ラーニング", "##ラーニン", "##ラーニ", "##ラー")
    assert all(s.found for s in trace)
    assert [s.match for s in trace] == [s.tried[-1] for s in trace]


def test_unaffable_toy_vocabulary() -> None:
    # the example of transformers' WordpieceTokenizer docstring, worked by hand
    trace = trace_wordpiece("unaffable", {"un", "##aff", "##able"})
    assert trace.pieces == ["un", "##aff", "##able"]
    assert trace[0].tried == ("unaffable", "unaffabl", "unaffab", "unaffa", "unaff", "unaf", "una", "un")


def test_failure_makes_whole_word_unknown() -> None:
    trace = trace_wordpiece("abx", {"a", "##b"}, unk_token="<unk>")
    assert trace.pieces == ["<unk>"]
    assert trace[-1] == WordPieceStep(start=2, tried=("##x",), match="<unk>", found=False)
    assert trace[-1].end == 2
    assert len(trace) == 3


def test_no_hash_lookup_at_word_start() -> None:
    # "##b" in the vocabulary does not help a word that starts with b
    assert trace_wordpiece("b", {"##b"}).pieces == ["[UNK]"]
    assert trace_wordpiece("ab", {"a", "b"}).pieces == ["[UNK]"]


def test_empty_word_has_no_steps() -> None:
    trace = trace_wordpiece("", {"a"})
    assert list(trace) == []
    assert trace.pieces == []
    assert "空の語" in str(trace)


def test_too_long_word_is_unknown_without_search() -> None:
    trace = trace_wordpiece("a" * 5, {"a", "##a"}, max_input_chars_per_word=4)
    assert trace.pieces == ["[UNK]"]
    assert len(trace) == 1 and trace[0].tried == () and not trace[0].found
    assert "max_input_chars_per_word=4" in str(trace)
    assert trace_wordpiece("a" * 4, {"a", "##a"}, max_input_chars_per_word=4).pieces == ["a", "##a", "##a", "##a"]


def test_str_lists_candidates_and_result() -> None:
    text = str(trace_wordpiece("abx", {"a", "##b"}))
    assert "語「abx」(3 文字)" in text
    assert "✗##x" in text
    assert "語全体が [UNK]" in text
    assert text.endswith("結果: ['[UNK]']")


@pytest.mark.parametrize("bad", ["二 語", "a\tb", "x\n"])
def test_whitespace_is_a_clear_error(bad: str) -> None:
    with pytest.raises(WordPieceError, match="word_tokenizer"):
        trace_wordpiece(bad, {"a"})


@pytest.mark.parametrize("bad", [None, 3, ["マシン"], b"abc"])
def test_non_str_is_a_clear_error(bad: object) -> None:
    with pytest.raises(WordPieceError, match="str") as info:
        trace_wordpiece(bad, {"a"})  # type: ignore[arg-type]
    assert isinstance(info.value, JbertError) and isinstance(info.value, ValueError)
