"""Tests of lesson 04-04's saved ``align_words``: word_ids for the slow tokenizer, from its two stages."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import BertJapaneseTokenizer

from jbert_helpers import WordAlignment, align_words
from jbert_helpers.standin import ensure_standin

EXPLORE = os.environ.get("JBERT_HYPOTHESIS_EXPLORE") == "1"
SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=not EXPLORE, suppress_health_check=[HealthCheck.too_slow]
)

HIRAGANA = [chr(c) for c in range(0x3041, 0x3097)]
KATAKANA = [chr(c) for c in range(0x30A1, 0x30FB)]
HALF_WIDTH_KANA = [chr(c) for c in range(0xFF61, 0xFFA0)]
KANJI = list("日本語自然言語処理明日天気晴勉強機械学習中国机器学习東京大学人工知能文章単語形態素解析𠮷")
PUNCT = list("、。「」！？・ー（）　#")
chunk = st.one_of(
    st.text(st.sampled_from(HIRAGANA + KATAKANA + KANJI + PUNCT), min_size=1, max_size=14),
    st.text(st.sampled_from("abcXYZ0123４５６ !?-"), min_size=1, max_size=6),
    st.text(st.sampled_from(HALF_WIDTH_KANA), min_size=1, max_size=4),
    st.sampled_from(["[MASK]", "[SEP]", "[UNK]", "😀", "\u200b", " ", "\n", "\u3000"]),
)
japanese_texts = st.lists(chunk, max_size=8).map("".join)


@pytest.fixture(scope="module")
def tokenizer() -> BertJapaneseTokenizer:
    return BertJapaneseTokenizer.from_pretrained(str(ensure_standin()), mecab_kwargs={"mecab_dic": "ipadic"})


def tokens_of(a: WordAlignment, i: int) -> list[str]:
    return [t for t, w in zip(a.tokens, a.word_ids, strict=True) if w == i]


def test_known_sentence(tokenizer):
    # ipadic keeps マシーンラーニング as one word; WordPiece splits it (docs/architecture.md, measured)
    a = align_words(tokenizer, "明日はマシーンラーニングの勉強をしよう。")
    assert a.words == ["明日", "は", "マシーンラーニング", "の", "勉強", "を", "しよ", "う", "。"]
    assert a.tokens[1:-1] == [
        "明日",
        "は",
        "マ",
        "##シーン",
        "##ラー",
        "##ニング",
        "の",
        "勉強",
        "を",
        "しよ",
        "う",
        "。",
    ]
    assert (a.tokens[0], a.tokens[-1]) == ("[CLS]", "[SEP]")
    assert a.word_ids == [None, 0, 1, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8, None]
    assert tokens_of(a, 2) == ["マ", "##シーン", "##ラー", "##ニング"]


def test_slow_tokenizer_has_no_word_ids(tokenizer):
    # why the lesson writes it: the library's word_ids() needs a fast tokenizer
    with pytest.raises(ValueError, match="word_ids"):
        tokenizer("明日は晴れ。").word_ids()


def test_special_token_typed_in_text_is_one_word(tokenizer):
    a = align_words(tokenizer, "明日は[MASK]だ。")
    assert a.words == ["明日", "は", "[MASK]", "だ", "。"]
    assert a.word_ids == [None, 0, 1, 2, 3, 4, None]


def test_unknown_word_is_one_unk_token(tokenizer):
    a = align_words(tokenizer, "𠮷野家")
    unk = [i for i, t in enumerate(a.tokens) if t == "[UNK]"]
    assert unk, a
    for i in unk:  # the [UNK] stands for a whole word
        assert tokens_of(a, a.word_ids[i]) == ["[UNK]"]


def test_empty_text(tokenizer):
    assert align_words(tokenizer, "") == WordAlignment([], ["[CLS]", "[SEP]"], [None, None])
    assert tokenizer("")["input_ids"] == [tokenizer.cls_token_id, tokenizer.sep_token_id]


@pytest.mark.parametrize("args", [("明日", "明日"), (None, "明日")])
def test_rejects_a_non_tokenizer(args):
    with pytest.raises(TypeError, match="BertJapaneseTokenizer"):
        align_words(*args)


def test_rejects_a_batch(tokenizer):
    with pytest.raises(TypeError, match="1 文を文字列"):
        align_words(tokenizer, ["明日", "晴れ"])


@SETTINGS
@given(text=japanese_texts)
def test_agrees_with_the_library_on_arbitrary_text(tokenizer, text):
    a = align_words(tokenizer, text)
    # the same tokens and ids as the library, and one word id per token, in order
    assert a.tokens[1:-1] == tokenizer.tokenize(text)
    assert tokenizer.convert_tokens_to_ids(a.tokens) == tokenizer(text)["input_ids"]
    assert len(a.word_ids) == len(a.tokens)
    assert a.word_ids[0] is None and a.word_ids[-1] is None
    inner = a.word_ids[1:-1]
    assert None not in inner and inner == sorted(inner)
    assert all(0 <= w < len(a.words) for w in inner)
    for i, word in enumerate(a.words):
        pieces = tokens_of(a, i)
        if pieces in ([], ["[UNK]"]) or word in tokenizer.all_special_tokens:
            continue
        # WordPiece only cuts a word: its pieces, without ##, spell it
        assert "".join(p.removeprefix("##") if k else p for k, p in enumerate(pieces)) == word
        if not word.startswith("#"):
            assert not pieces[0].startswith("##")
        assert all(p.startswith("##") for p in pieces[1:])
