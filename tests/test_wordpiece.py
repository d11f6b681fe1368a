"""Tests of lesson 04-05's saved ``wordpiece_tokenize``: its pieces are the library's, and its steps are right.

Expected pieces come from transformers' own ``tokenizer.subword_tokenizer`` over the real
vocabulary, from the facts table of ARCHITECTURE.md, or from hand-worked toy vocabularies.
(The hypothesis test over the vocabulary's characters is in ``tests/test_properties.py``.)
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import BertJapaneseTokenizer

from jbert_helpers import WordPieceStep, wordpiece_tokenize
from jbert_helpers.standin import packaged_vocab


@pytest.fixture(scope="module")
def tokenizer() -> BertJapaneseTokenizer:
    """The lessons' tokenizer (MeCab ipadic + WordPiece) over the real model's vocabulary."""
    return BertJapaneseTokenizer(vocab_file=str(packaged_vocab()), mecab_kwargs={"mecab_dic": "ipadic"})


def traced(word: str, vocab, **kwargs) -> tuple[list[str], list[WordPieceStep]]:
    steps: list[WordPieceStep] = []
    return wordpiece_tokenize(word, vocab, steps=steps, **kwargs), steps


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
    assert wordpiece_tokenize(word, tokenizer.vocab) == tokenizer.subword_tokenizer.tokenize(word)
    # recording the steps does not change the result
    assert traced(word, tokenizer.vocab)[0] == tokenizer.subword_tokenizer.tokenize(word)


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
        pieces = [p for w in words for p in wordpiece_tokenize(w, tokenizer.vocab)]
        assert pieces == tokenizer.tokenize(sentence)


@settings(max_examples=300, deadline=None)
@given(word=st.text(alphabet="マシーンラニグ学习机器abcあ", min_size=0, max_size=12))
def test_random_words_equal_library(tokenizer: BertJapaneseTokenizer, word: str) -> None:
    assert wordpiece_tokenize(word, tokenizer.vocab) == tokenizer.subword_tokenizer.tokenize(word)


def test_architecture_table_facts(tokenizer: BertJapaneseTokenizer) -> None:
    # ARCHITECTURE.md, ipadic column: マシーンラーニング is one word → マ ##シーン ##ラー ##ニング
    assert wordpiece_tokenize("マシーンラーニング", tokenizer.vocab) == ["マ", "##シーン", "##ラー", "##ニング"]
    assert wordpiece_tokenize("マシンラーニング", tokenizer.vocab) == ["マシン", "##ラー", "##ニング"]
    # unidic_lite gives しよう as one word: しよ ##う (the seed's printed tokens)
    assert wordpiece_tokenize("しよう", tokenizer.vocab) == ["しよ", "##う"]


def test_steps_of_machine_learning_by_hand(tokenizer: BertJapaneseTokenizer) -> None:
    word = "マシーンラーニング"
    pieces, steps = traced(word, tokenizer.vocab)
    assert [s.start for s in steps] == [0, 1, 4, 6]
    # step 1 tries every prefix, longest first, without ##
    assert steps[0].tried == [word[:k] for k in range(9, 0, -1)]
    # later steps try ## + the rest, longest first, and stop at the first match
    assert steps[2].tried == ["##ラーニング", "##ラーニン", "##ラーニ", "##ラー"]
    assert [s.match for s in steps] == [s.tried[-1] for s in steps] == pieces
    # the lesson's exercise 04-05-2: 9 + 6 + 4 + 1 look-ups
    assert sum(len(s.tried) for s in steps) == 20


def test_unaffable_toy_vocabulary() -> None:
    # the example of transformers' WordpieceTokenizer docstring, worked by hand
    pieces, steps = traced("unaffable", {"un", "##aff", "##able"})
    assert pieces == ["un", "##aff", "##able"]
    assert steps[0].tried == ["unaffable", "unaffabl", "unaffab", "unaffa", "unaff", "unaf", "una", "un"]
    assert steps[1] == WordPieceStep(2, ["##affable", "##affabl", "##affab", "##affa", "##aff"], "##aff")


def test_failure_makes_whole_word_unknown() -> None:
    pieces, steps = traced("abx", {"a", "##b"}, unk_token="<unk>")
    assert pieces == ["<unk>"]
    assert steps[-1] == WordPieceStep(start=2, tried=["##x"], match=None)
    assert len(steps) == 3


def test_no_hash_lookup_at_word_start() -> None:
    # "##b" in the vocabulary does not help a word that starts with b
    assert wordpiece_tokenize("b", {"##b"}) == ["[UNK]"]
    assert wordpiece_tokenize("ab", {"a", "b"}) == ["[UNK]"]


def test_empty_word_has_no_steps() -> None:
    assert traced("", {"a"}) == ([], [])


def test_too_long_word_is_unknown_without_search() -> None:
    assert traced("a" * 5, {"a", "##a"}, max_input_chars_per_word=4) == (["[UNK]"], [])
    assert wordpiece_tokenize("a" * 4, {"a", "##a"}, max_input_chars_per_word=4) == ["a", "##a", "##a", "##a"]


@pytest.mark.parametrize("bad", ["二 語", "a\tb", "x\n", "語\u3000"])
def test_whitespace_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match="word_tokenizer"):
        wordpiece_tokenize(bad, {"a"})


@pytest.mark.parametrize("bad", [None, 3, ["マシン"], b"abc"])
def test_non_str_is_a_clear_error(bad: object) -> None:
    with pytest.raises(TypeError, match="文字列 \\(str\\)"):
        wordpiece_tokenize(bad, {"a"})  # type: ignore[arg-type]
