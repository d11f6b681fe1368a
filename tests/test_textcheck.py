"""Tests of jbert_helpers.textcheck (lesson 04-13a): what the tokenizer silently does to real text.

Every case is measured with the real tokenizer over the real vocabulary (the stand-in's), loaded as
the lessons load it. The expected positions are counted from the texts by hand (Python ``str``
indices: 𠮷 is one position), and where it matters the test first asserts what the library itself
does (``tokenizer.tokenize``, the ids), so a change in transformers, fugashi or ipadic shows up here
as a library fact, not as a checker bug. Property tests (hypothesis) at the end.
"""

from __future__ import annotations

import os
import unicodedata

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import BertJapaneseTokenizer

import jbert_helpers
from jbert_helpers.errors import (
    EncodingMismatchError,
    JbertError,
    TextAlignmentError,
    TextCheckError,
)
from jbert_helpers.standin import ensure_standin
from jbert_helpers.textcheck import REASONS, TextReport, check_text

EXPLORE = os.environ.get("JBERT_HYPOTHESIS_EXPLORE") == "1"
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    derandomize=not EXPLORE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def tokenizer() -> BertJapaneseTokenizer:
    return BertJapaneseTokenizer.from_pretrained(str(ensure_standin()), mecab_kwargs={"mecab_dic": "ipadic"})


def spans(report: TextReport) -> list[tuple[int, int, str, str]]:
    return [(f.start, f.end, f.original, f.reason) for f in report.findings]


# --- dropped: MeCab stops at a NUL --------------------------------------------------------------


def test_nul_drops_the_rest_of_the_text(tokenizer):
    text = "前半\x00後半の文章"
    assert tokenizer.tokenize(text) == ["前半"]  # the library fact the lesson teaches
    report = check_text(tokenizer, text)
    assert spans(report) == [(2, 8, "\x00後半の文章", "dropped")]
    (finding,) = report.findings
    assert finding.became == "" and "NUL" in finding.detail
    assert [p for p, _, _ in report.characters()] == [2, 3, 4, 5, 6, 7]
    assert not report.ok


def test_nul_first_drops_everything(tokenizer):
    assert tokenizer.tokenize("\x00前") == []
    report = check_text(tokenizer, "\x00前")
    assert spans(report) == [(0, 2, "\x00前", "dropped")]
    assert report.tokens == () and report.kept == 0


def test_whitespace_after_a_nul_is_lost_too(tokenizer):
    report = check_text(tokenizer, "前\x00 後")
    assert spans(report) == [(1, 4, "\x00 後", "dropped")]


def test_nul_loses_only_up_to_a_typed_special_token(tokenizer):
    # the special-token split happens before MeCab, so MeCab starts again after "[SEP]"
    text = "前\x00後[SEP]続き"
    assert tokenizer.tokenize(text) == ["前", "[SEP]", "続き"]
    assert spans(check_text(tokenizer, text)) == [(1, 3, "\x00後", "dropped"), (3, 8, "[SEP]", "special")]


# --- special tokens typed in the text ---------------------------------------------------------


def test_typed_special_tokens_become_control_ids(tokenizer):
    text = "文[CLS]の[SEP]途中"
    enc = tokenizer(text)
    ids = enc["input_ids"]
    # [CLS] 文 [CLS] の [SEP] 途中 [SEP]: the control ids 2 and 3 in mid-sentence
    assert ids[2] == tokenizer.cls_token_id == 2 and ids[4] == tokenizer.sep_token_id == 3
    report = check_text(tokenizer, text, enc)
    assert spans(report) == [(1, 6, "[CLS]", "special"), (7, 12, "[SEP]", "special")]
    assert [f.became for f in report.findings] == ["[CLS] (id 2)", "[SEP] (id 3)"]
    assert "split_special_tokens=True" in report.findings[0].detail
    assert report.split_special_tokens is False


def test_split_special_tokens_keeps_them_as_text(tokenizer):
    text = "文[CLS]の[SEP]途中"
    enc = tokenizer(text, split_special_tokens=True)
    inner = enc["input_ids"][1:-1]
    assert tokenizer.cls_token_id not in inner and tokenizer.sep_token_id not in inner
    report = check_text(tokenizer, text, enc)  # found out which way the encoding was made
    assert report.ok and report.split_special_tokens is True
    assert check_text(tokenizer, text, split_special_tokens=True).ok


def test_saying_the_wrong_split_special_tokens_is_a_mismatch(tokenizer):
    text = "文[SEP]途中"
    with pytest.raises(EncodingMismatchError, match="文 '文\\[SEP\\]途中' のものではありません"):
        check_text(tokenizer, text, tokenizer(text, split_special_tokens=True), split_special_tokens=False)


@pytest.mark.parametrize("special", ["[PAD]", "[UNK]", "[MASK]"])
def test_every_special_token_string_is_found(tokenizer, special):
    text = f"あ{special}い"
    (finding,) = check_text(tokenizer, text).findings
    assert (finding.start, finding.end, finding.reason) == (1, 1 + len(special), "special")
    assert finding.became == f"{special} (id {tokenizer.convert_tokens_to_ids(special)})"


# --- [UNK]: zero-width space, emoji, non-BMP kanji, a word with one unknown character --------------


def test_zero_width_space_is_a_separate_unk(tokenizer):
    text = "前\u200b後"
    assert tokenizer.tokenize(text) == ["前", tokenizer.unk_token, "後"]
    report = check_text(tokenizer, text)
    assert spans(report) == [(1, 2, "\u200b", "unk")]
    assert report.findings[0].became == "[UNK]" and "U+200B" in report.findings[0].detail


def test_emoji_become_unk(tokenizer):
    text = "今日は🍣を食べた😊。"
    report = check_text(tokenizer, text)
    assert spans(report) == [(3, 4, "🍣", "unk"), (8, 9, "😊", "unk")]


def test_non_bmp_kanji_is_one_position_and_unk(tokenizer):
    text = "𠮷野家"
    assert len(text) == 3 and ord(text[0]) > 0xFFFF
    report = check_text(tokenizer, text)
    assert spans(report) == [(0, 1, "𠮷", "unk")]
    assert [(t.token, t.start, t.end) for t in report.tokens] == [("[UNK]", 0, 1), ("野", 1, 2), ("##家", 2, 3)]


def test_a_word_with_one_unknown_character_is_lost_whole(tokenizer):
    # 04-06: 髙 is not in the vocabulary, 橋 is; MeCab makes 髙橋 one word, so both are lost
    assert "橋" in tokenizer.vocab and "髙" not in tokenizer.vocab
    report = check_text(tokenizer, "髙橋さん")
    assert spans(report) == [(0, 2, "髙橋", "unk")]
    assert "'髙'" in report.findings[0].detail


def test_control_character_becomes_unk(tokenizer):
    assert spans(check_text(tokenizer, "前半\x01後半")) == [(2, 3, "\x01", "unk")]


# --- normalised by NFKC ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ｶﾀｶﾅ", [(0, 4, "ｶﾀｶﾅ", "カタカナ")]),
        ("１２３円", [(0, 3, "１２３", "123")]),
        ("ｶﾞｷﾞ", [(0, 4, "ｶﾞｷﾞ", "ガギ")]),  # a half-width voicing mark joins the kana before it
        ("㍿", [(0, 1, "㍿", "株式会社")]),
        ("Ａｂｃ", [(0, 3, "Ａｂｃ", "Abc")]),
    ],
)
def test_nfkc_changes_are_reported(tokenizer, text, expected):
    report = check_text(tokenizer, text)
    assert [(f.start, f.end, f.original, f.became) for f in report.findings] == expected
    assert report.reasons() == ["normalized"] * len(expected)


def test_normalised_text_is_what_the_model_sees(tokenizer):
    # the library fact behind "normalized": the tokens are the NFKC form, decode gives it back
    assert tokenizer.tokenize("ｶﾀｶﾅ") == ["カタカナ"]
    assert tokenizer.decode(tokenizer.encode("ｶﾀｶﾅ"), skip_special_tokens=True) == "カタカナ"


# --- truncated -------------------------------------------------------------------------------------


def test_truncation_reports_the_cut_characters(tokenizer):
    text = "明日の天気は晴れだ。"  # 明日/の/天気/は/晴れ/だ/。: max_length=6 keeps 4 of the 7 tokens
    enc = tokenizer(text, max_length=6, truncation=True)
    report = check_text(tokenizer, text, enc)
    assert spans(report) == [(6, 10, "晴れだ。", "truncated")]
    assert (report.kept, len(report.tokens)) == (4, 7)


def test_truncation_with_padding_tensors_and_the_mask(tokenizer):
    text = "明日の天気は晴れだ。"
    enc = tokenizer([text], max_length=8, padding="max_length", truncation=True, return_tensors="pt")
    assert spans(check_text(tokenizer, text, enc)) == [(9, 10, "。", "truncated")]
    padded = tokenizer(text, max_length=16, padding="max_length", truncation=True)
    assert padded["input_ids"][-1] == tokenizer.pad_token_id
    assert check_text(tokenizer, text, padded).ok
    assert check_text(tokenizer, text, padded["input_ids"]).ok  # ids alone: padding found without a mask


def test_left_padding_and_no_special_tokens(tokenizer):
    text = "明日の天気は晴れだ。"
    ids = tokenizer.encode(text)
    assert check_text(tokenizer, text, [tokenizer.pad_token_id] * 3 + ids).ok
    bare = tokenizer(text, add_special_tokens=False, max_length=2, truncation=True)
    assert spans(check_text(tokenizer, text, bare)) == [(3, 10, "天気は晴れだ。", "truncated")]


def test_max_length_2_keeps_no_text(tokenizer):
    text = "明日は晴れ。"
    enc = tokenizer(text, max_length=2, truncation=True)
    assert enc["input_ids"] == [tokenizer.cls_token_id, tokenizer.sep_token_id]
    assert spans(check_text(tokenizer, text, enc)) == [(0, 6, text, "truncated")]


def test_truncation_takes_precedence_and_other_findings_stay(tokenizer):
    text = "ｶﾀｶﾅで𠮷野家"  # カタカナ/で/[UNK]/野/##家: max_length=5 keeps 3
    report = check_text(tokenizer, text, tokenizer(text, max_length=5, truncation=True))
    assert spans(report) == [(0, 4, "ｶﾀｶﾅ", "normalized"), (5, 6, "𠮷", "unk"), (6, 8, "野家", "truncated")]
    cut_unk = check_text(tokenizer, text, tokenizer(text, max_length=4, truncation=True))
    assert spans(cut_unk)[1:] == [(5, 8, "𠮷野家", "truncated")]


def test_truncation_joins_across_whitespace(tokenizer):
    text = "明日 晴れ 雨"
    report = check_text(tokenizer, text, tokenizer(text, max_length=3, truncation=True))
    assert spans(report) == [(3, 7, "晴れ 雨", "truncated")]  # 明日 | 晴れ 雨 (7 characters)


# --- what is not reported ------------------------------------------------------------------------


def test_a_space_changes_the_split_yet_is_not_reported(tokenizer):
    """The design lesson 04-13a states: whitespace is a separator, never reported, though it moves word boundaries."""
    assert tokenizer.tokenize("外国人参政権") == ["外国", "人", "##参", "政権"]
    assert tokenizer.tokenize("外国人 参政権") == ["外国", "人", "参政", "権"]
    assert check_text(tokenizer, "外国人 参政権").ok and check_text(tokenizer, "今日は\t晴れ\n明日は\u3000雨").ok


@pytest.mark.parametrize("text", ["明日は晴れ。", "a\tb\nc", "前\u3000後", "  ", ""])
def test_clean_text_and_whitespace_are_not_reported(tokenizer, text):
    report = check_text(tokenizer, text)
    assert report.ok and report.findings == () and report.characters() == []
    assert "すべての文字が残りました" in str(report)


def test_token_spans_are_offsets_into_the_text(tokenizer):
    text = "明日はマシーンラーニングの勉強をしよう。"
    report = check_text(tokenizer, text)
    assert [t.token for t in report.tokens] == tokenizer.tokenize(text)
    assert [t.id for t in report.tokens] == tokenizer.encode(text, add_special_tokens=False)
    for t in report.tokens:
        assert text[t.start : t.end] == t.token.removeprefix("##")
    assert [(t.start, t.end) for t in report.tokens[2:5]] == [(3, 4), (4, 7), (7, 9)]  # マ ##シーン ##ラー


def test_token_spans_after_nfkc_changed_the_length(tokenizer):
    # ｶﾞｲﾄﾞ is 5 characters (each voicing mark ﾞ is one), NFKC makes it the 3 characters ガイド
    text = "ｶﾞｲﾄﾞは𠮷野家"
    report = check_text(tokenizer, text)
    assert [(t.token, t.start, t.end) for t in report.tokens] == [
        ("ガイド", 0, 5),
        ("は", 5, 6),
        ("[UNK]", 6, 7),
        ("野", 7, 8),
        ("##家", 8, 9),
    ]
    assert spans(report) == [(0, 5, "ｶﾞｲﾄﾞ", "normalized"), (6, 7, "𠮷", "unk")]


def test_report_prints_position_reason_and_what_it_became(tokenizer):
    lines = str(check_text(tokenizer, "ｶﾀｶﾅ🍣\x00後")).splitlines()
    assert lines[0].startswith("文 'ｶﾀｶﾅ🍣\\x00後' (7 文字) → トークン 2 個、見つかったもの 3 件")
    assert lines[1].startswith("位置 0-3") and "normalized" in lines[1] and "カタカナ" in lines[1]
    assert lines[2].startswith("位置 4 ") and "[UNK]" in lines[2]
    assert lines[3].startswith("位置 5-6") and "dropped" in lines[3]
    assert repr(check_text(tokenizer, "前")) == str(check_text(tokenizer, "前"))


# --- bad input: clear JbertError subclasses ----------------------------------------------------------


@pytest.mark.parametrize("bad", [None, 3, b"abc", ["文A", "文B"]])
def test_text_must_be_one_str(tokenizer, bad):
    with pytest.raises(TextCheckError, match="str") as info:
        check_text(tokenizer, bad)
    assert isinstance(info.value, JbertError) and isinstance(info.value, ValueError)


def test_arguments_in_the_wrong_order(tokenizer):
    with pytest.raises(TextCheckError, match=r"check_text\(tokenizer, text, encoding\)"):
        check_text("明日", tokenizer)  # type: ignore[arg-type]


def test_a_batch_of_two_rows_is_refused(tokenizer):
    enc = tokenizer(["明日", "晴れ"], padding=True)
    with pytest.raises(TextCheckError, match="1 行ずつ"):
        check_text(tokenizer, "明日", enc)


@pytest.mark.parametrize(
    "bad",
    [
        {"attention_mask": [1, 1]},
        {"input_ids": torch.tensor([2.0, 3.0])},
        {"input_ids": []},
        "2 3",
        {"input_ids": [2, "x", 3]},
    ],
)
def test_broken_encodings_are_refused(tokenizer, bad):
    with pytest.raises(TextCheckError):
        check_text(tokenizer, "明日", bad)


def test_another_texts_encoding_is_a_mismatch(tokenizer):
    with pytest.raises(EncodingMismatchError, match="明日"):
        check_text(tokenizer, "明日", tokenizer("晴れ"))


def test_a_pair_is_a_mismatch(tokenizer):
    with pytest.raises(EncodingMismatchError):
        check_text(tokenizer, "文A", tokenizer("文A", "文B"))


def test_a_word_tokenizer_that_is_not_mecab_is_refused(tokenizer, monkeypatch):
    class Rewriting:  # returns words that are not in the text: nothing can be aligned
        def tokenize(self, text, never_split=None):
            return ["別の語"]

    monkeypatch.setattr(tokenizer, "word_tokenizer", Rewriting())
    with pytest.raises(TextAlignmentError):
        check_text(tokenizer, "明日")


def test_exported_from_the_package():
    assert jbert_helpers.check_text is check_text
    assert issubclass(jbert_helpers.errors.EncodingMismatchError, jbert_helpers.errors.TextCheckError)
    assert set(REASONS) == {"dropped", "truncated", "special", "unk", "normalized"}


# --- properties ----------------------------------------------------------------------------------


def _safe_characters(vocab) -> list[str]:
    """Characters that survive on their own anywhere in a word: in the vocabulary both as a word start
    and as a continuation (##), unchanged by NFKC, not whitespace, not combining, and no bracket
    (so no special-token string can appear)."""
    return sorted(
        c
        for c in vocab
        if len(c) == 1
        and "##" + c in vocab
        and unicodedata.normalize("NFKC", c) == c
        and not c.isspace()
        and unicodedata.combining(c) == 0
        and c not in "[]"
        and not unicodedata.category(c).startswith("C")
    )


@pytest.fixture(scope="module")
def safe(tokenizer) -> list[str]:
    chars = _safe_characters(tokenizer.vocab)
    assert len(chars) > 1000  # kana, kanji, Latin letters, digits, punctuation
    return chars


@st.composite
def safe_texts(draw, alphabet: list[str]) -> str:
    return draw(st.text(st.sampled_from(alphabet), min_size=1, max_size=40))


@PROPERTY
@given(data=st.data())
def test_in_vocabulary_text_has_an_empty_report(tokenizer, safe, data):
    text = data.draw(safe_texts(safe))
    report = check_text(tokenizer, text)
    # the independent fact: the tokens spell the text exactly (nothing lost, nothing changed)
    assert "".join(t.removeprefix("##") for t in tokenizer.tokenize(text)) == text
    assert report.ok, str(report)
    assert "".join(text[t.start : t.end] for t in report.tokens) == text


@PROPERTY
@given(data=st.data())
def test_a_nul_is_reported_at_its_position(tokenizer, safe, data):
    text = data.draw(safe_texts(safe))
    i = data.draw(st.integers(0, len(text)))
    with_nul = text[:i] + "\x00" + text[i:]
    # the independent fact: only the text before the NUL is tokenized
    assert "".join(t.removeprefix("##") for t in tokenizer.tokenize(with_nul)) == text[:i]
    report = check_text(tokenizer, with_nul)
    assert spans(report) == [(i, len(with_nul), with_nul[i:], "dropped")]


@PROPERTY
@given(data=st.data(), intruder=st.sampled_from(["\u200b", "🍣", "😀", "𠮷", "\x01"]))
def test_an_unknown_character_is_reported_at_its_position(tokenizer, safe, data, intruder):
    text = data.draw(safe_texts(safe))
    i = data.draw(st.integers(0, len(text)))
    mixed = text[:i] + intruder + text[i:]
    assert tokenizer.unk_token in tokenizer.tokenize(mixed)
    report = check_text(tokenizer, mixed)
    (finding,) = report.findings  # MeCab may glue neighbours to it: then its whole word is [UNK]
    assert finding.reason == "unk" and finding.start <= i < finding.end
    assert finding.original == mixed[finding.start : finding.end]


@PROPERTY
@given(data=st.data())
def test_truncation_is_reported_from_the_first_cut_token(tokenizer, safe, data):
    text = data.draw(safe_texts(safe))
    n = len(tokenizer.tokenize(text))
    max_length = data.draw(st.integers(2, n + 2))
    report = check_text(tokenizer, text, tokenizer(text, max_length=max_length, truncation=True))
    assert report.kept == max_length - 2
    if max_length - 2 == n:
        assert report.ok
    else:
        (finding,) = report.findings
        assert finding.reason == "truncated"
        assert (finding.start, finding.end) == (report.tokens[report.kept].start, len(text))


MIXED = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "明日",
                "晴れ",
                "ｶﾀｶﾅ",
                "１２",
                "🍣",
                "𠮷",
                "\u200b",
                "\x00",
                "[SEP]",
                "[CLS]",
                " ",
                "\n",
                "髙橋",
                "㍿",
                "ｶﾞ",
                "cafe\u0301",
                "。",
                "abc",
            ]
        ),
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=3),
    ),
    max_size=10,
).map("".join)


@PROPERTY
@given(text=MIXED, max_length=st.integers(2, 40))
def test_every_character_is_either_in_a_kept_token_or_reported(tokenizer, text, max_length):
    enc = tokenizer(text, max_length=max_length, truncation=True)
    report = check_text(tokenizer, text, enc)
    assert [t.id for t in report.tokens[: report.kept]] == enc["input_ids"][1:-1]
    reported = [p for p, _, _ in report.characters()]
    assert reported == sorted(set(reported))  # findings in order, never overlapping
    covered = {p for t in report.tokens[: report.kept] for p in range(t.start, t.end)}
    for p, ch in enumerate(text):
        assert p in covered or p in reported or ch.isspace(), (p, ch, str(report))
    for f in report.findings:
        assert f.original == text[f.start : f.end] and f.reason in REASONS
