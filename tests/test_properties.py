"""Property tests (hypothesis) of the public helpers, on arbitrary input.

* Whatever text the learner types (Japanese, ASCII, emoji, half-width kana, empty, whitespace
  only, longer than 512 tokens; single sentences, pairs, batches of 1 … 64), the stand-in
  tokenizer's output with ``truncation=True, max_length <= 512`` passes :func:`check_encoding`,
  and the report agrees with the encoding (rows, lengths, effective lengths, kinds).
* Every mutation of a valid encoding that breaks an invariant (a moved ``[SEP]``, a flipped mask
  bit, a ``[PAD]`` inside the text, a wrong segment id) is rejected with ``EncodingError``.
* ``choose_device`` and ``wordpiece_tokenize`` keep their contracts on arbitrary strings and words.

Example counts are modest (the file runs in well under a minute on two cores) and the examples
are the same on every run (no flakes in ``make test``); ``JBERT_HYPOTHESIS_EXPLORE=1`` draws new
ones. Hypothesis keeps the failing examples it finds in ``.hypothesis/`` and replays them first.
"""

from __future__ import annotations

import os
import string

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from transformers import BertJapaneseTokenizer

from jbert_helpers import EncodingError, check_encoding, choose_device
from jbert_helpers.errors import DeviceError
from jbert_helpers.standin import ensure_standin

# `make test` must not flake: the examples are derived from each test's name (derandomize), the same
# on every run. JBERT_HYPOTHESIS_EXPLORE=1 draws new random examples (run it now and then, e.g. with
# max examples raised through a hypothesis profile, to search further).
EXPLORE = os.environ.get("JBERT_HYPOTHESIS_EXPLORE") == "1"
SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=not EXPLORE, suppress_health_check=[HealthCheck.too_slow]
)
FEW = settings(max_examples=15, deadline=None, derandomize=not EXPLORE, suppress_health_check=[HealthCheck.too_slow])
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")

# --- text strategies ------------------------------------------------------------------------
HIRAGANA = [chr(c) for c in range(0x3041, 0x3097)]
KATAKANA = [chr(c) for c in range(0x30A1, 0x30FB)]
HALF_WIDTH_KANA = [chr(c) for c in range(0xFF61, 0xFFA0)]
KANJI = list("日本語自然言語処理明日天気晴勉強機械学習中国机器学习東京大学人工知能文章単語形態素解析")
PUNCT = list("、。「」！？・ー（）　")
EMOJI = ["😀", "👍", "👍🏽", "🇯🇵", "👨‍👩‍👧", "🍣", "❤️", "🤖"]
WHITESPACE = [" ", "\t", "\n", "\u3000", "\r"]
ASCII = list(string.ascii_letters + string.digits + string.punctuation)

chunk = st.one_of(
    st.text(st.sampled_from(HIRAGANA + KATAKANA + KANJI + PUNCT), min_size=1, max_size=12),
    st.text(st.sampled_from(ASCII), min_size=1, max_size=8),
    st.text(st.sampled_from(HALF_WIDTH_KANA), min_size=1, max_size=6),
    st.lists(st.sampled_from(EMOJI), min_size=1, max_size=3).map("".join),  # some are several code points
    st.text(st.sampled_from(WHITESPACE), min_size=1, max_size=3),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=4),
)


def _no_literal_specials(text: str) -> bool:
    # A literal "[SEP]" typed into the text becomes the special token (see the test below).
    return not any(s in text for s in SPECIAL_TOKENS)


texts = st.lists(chunk, max_size=8).map("".join).filter(_no_literal_specials)
# Longer than 512 tokens: one Japanese sentence repeated (each repetition is ~10 tokens).
long_texts = st.builds(
    lambda s, n: s * n, st.sampled_from(["明日は自然言語処理の勉強をしよう。", "ｱｲｳ😀abc "]), st.integers(60, 120)
)
any_text = st.one_of(texts, texts, st.sampled_from(["", " ", "\u3000\n\t"]), long_texts)
max_lengths = st.one_of(st.just(512), st.integers(8, 512), st.integers(4, 16))


@pytest.fixture(scope="session")
def tokenizer() -> BertJapaneseTokenizer:
    return BertJapaneseTokenizer.from_pretrained(str(ensure_standin()), mecab_kwargs={"mecab_dic": "ipadic"})


def _effective_lengths(enc: dict) -> list[int]:
    return [sum(row) for row in enc["attention_mask"]]


# --- the tokenizer's outputs always pass the checker ------------------------------------------------
@SETTINGS
@given(text=any_text, max_length=max_lengths)
def test_single_sentence_passes(tokenizer: BertJapaneseTokenizer, text: str, max_length: int) -> None:
    enc = tokenizer(text, truncation=True, max_length=max_length, return_token_type_ids=True)
    report = check_encoding(enc)
    (row,) = report.rows
    assert row.kind == "single"
    assert row.length == len(enc["input_ids"]) <= max_length
    assert row.effective_length == sum(enc["attention_mask"]) == row.length  # no padding asked for
    assert row.sep_positions == (row.length - 1,)


@SETTINGS
@given(a=any_text, b=any_text, max_length=max_lengths)
def test_pair_passes(tokenizer: BertJapaneseTokenizer, a: str, b: str, max_length: int) -> None:
    enc = tokenizer(a, b, truncation=True, max_length=max_length, return_token_type_ids=True)
    report = check_encoding(enc)
    (row,) = report.rows
    assert row.kind == "pair"
    assert row.segment_a + row.segment_b == row.effective_length == len(enc["input_ids"]) <= max_length
    assert row.segment_b == sum(enc["token_type_ids"])


@SETTINGS
@given(
    batch=st.lists(any_text, min_size=1, max_size=64),
    padding=st.sampled_from([True, "longest", "max_length"]),
    max_length=max_lengths,
    tensors=st.booleans(),
)
def test_batch_passes(tokenizer, batch: list[str], padding, max_length: int, tensors: bool) -> None:
    enc = tokenizer(
        batch,
        padding=padding,
        truncation=True,
        max_length=max_length,
        return_token_type_ids=True,
        return_tensors="pt" if tensors else None,
    )
    report = check_encoding(enc)
    as_lists = {k: (v.tolist() if tensors else v) for k, v in enc.items()}
    assert len(report.rows) == len(batch)
    assert [r.effective_length for r in report.rows] == _effective_lengths(as_lists)
    width = len(as_lists["input_ids"][0])
    assert all(r.length == width for r in report.rows)
    assert width == max_length if padding == "max_length" else width == max(_effective_lengths(as_lists))


@FEW
@given(pairs=st.lists(st.tuples(any_text, any_text), min_size=1, max_size=64), max_length=max_lengths)
def test_batch_of_pairs_passes(tokenizer, pairs: list[tuple[str, str]], max_length: int) -> None:
    enc = tokenizer(
        [a for a, _ in pairs],
        [b for _, b in pairs],
        padding=True,
        truncation=True,
        max_length=max_length,
        return_token_type_ids=True,
    )
    report = check_encoding(enc)
    assert [r.kind for r in report.rows] == ["pair"] * len(pairs)
    assert [r.pad_count for r in report.rows] == [row.count(0) for row in enc["attention_mask"]]


def test_without_token_type_ids_also_passes(tokenizer: BertJapaneseTokenizer) -> None:
    # transformers 5's BertJapaneseTokenizer returns no token_type_ids unless asked.
    enc = tokenizer(["明日は晴れ", ""], ["", "😀"], padding=True, truncation=True, max_length=512)
    assert "token_type_ids" not in enc
    assert [r.kind for r in check_encoding(enc).rows] == ["pair", "pair"]


def test_literal_special_token_in_text_is_caught(tokenizer: BertJapaneseTokenizer) -> None:
    """Typed "[SEP]" becomes the special token; with segments, the checker sees the lie."""
    enc = tokenizer("明日[SEP]晴れ", return_token_type_ids=True)
    assert enc["input_ids"].count(tokenizer.sep_token_id) == 2
    with pytest.raises(EncodingError, match="token_type_ids"):
        check_encoding(enc)


# --- every mutation of a valid encoding is rejected ------------------------------------------------
@st.composite
def valid_batches(draw: st.DrawFn) -> dict[str, list[list[int]]]:
    """A padded batch (single sentences or pairs) in which every row has at least one real token."""
    n = draw(st.integers(1, 8))
    firsts = draw(st.lists(texts.filter(str.strip), min_size=n, max_size=n))
    seconds = draw(st.one_of(st.none(), st.lists(texts, min_size=n, max_size=n)))
    enc = TOKENIZER(
        firsts,
        seconds,
        padding=draw(st.sampled_from([True, "max_length"])),
        truncation=True,
        max_length=draw(st.integers(16, 64)),
        return_token_type_ids=True,
    )
    rows = {k: [list(r) for r in v] for k, v in enc.items()}
    assume(all(sum(m) >= 3 for m in rows["attention_mask"]))  # [CLS] x [SEP]: something to mutate
    check_encoding(rows)  # the unmutated batch is valid
    return rows


TOKENIZER: BertJapaneseTokenizer  # set by the autouse fixture below (strategies cannot take fixtures)


@pytest.fixture(autouse=True)
def _strategy_tokenizer(tokenizer: BertJapaneseTokenizer) -> None:
    global TOKENIZER
    TOKENIZER = tokenizer


def _pick_row(draw: st.DrawFn, enc: dict) -> tuple[int, int]:
    row = draw(st.integers(0, len(enc["input_ids"]) - 1))
    return row, sum(enc["attention_mask"][row])


@SETTINGS
@given(data=st.data())
def test_moved_sep_is_rejected(data: st.DataObject) -> None:
    enc = data.draw(valid_batches())
    row, eff = _pick_row(data.draw, enc)
    ids = enc["input_ids"][row]
    last_sep = eff - 1
    candidates = [j for j in range(1, eff - 1) if ids[j] != 3]
    assume(candidates)
    j = data.draw(st.sampled_from(candidates))
    ids[j], ids[last_sep] = ids[last_sep], ids[j]
    with pytest.raises(EncodingError, match=f"行 {row}"):
        check_encoding(enc)


@SETTINGS
@given(data=st.data())
def test_flipped_mask_bit_is_rejected(data: st.DataObject) -> None:
    enc = data.draw(valid_batches())
    row, _ = _pick_row(data.draw, enc)
    mask = enc["attention_mask"][row]
    j = data.draw(st.integers(0, len(mask) - 1))
    mask[j] = 1 - mask[j]
    with pytest.raises(EncodingError, match=f"行 {row}、位置 {j}: attention_mask"):
        check_encoding(enc)


@SETTINGS
@given(data=st.data())
def test_pad_inside_the_text_is_rejected(data: st.DataObject) -> None:
    enc = data.draw(valid_batches())
    row, eff = _pick_row(data.draw, enc)
    j = data.draw(st.integers(1, eff - 2))
    enc["input_ids"][row][j] = 0
    with pytest.raises(EncodingError, match=f"行 {row}、位置 {j}: \\[PAD\\]"):
        check_encoding(enc)


@SETTINGS
@given(data=st.data())
def test_wrong_segment_id_is_rejected(data: st.DataObject) -> None:
    enc = data.draw(valid_batches())
    row, _ = _pick_row(data.draw, enc)
    types = enc["token_type_ids"][row]
    j = data.draw(st.integers(0, len(types) - 1))
    types[j] = data.draw(st.sampled_from([v for v in (0, 1, 2) if v != types[j]]))
    with pytest.raises(EncodingError, match=f"行 {row}、位置 {j}: token_type_ids"):
        check_encoding(enc)


@SETTINGS
@given(data=st.data())
def test_mutations_are_rejected_as_tensors_too(data: st.DataObject) -> None:
    enc = data.draw(valid_batches())
    row, eff = _pick_row(data.draw, enc)
    key = data.draw(st.sampled_from(["attention_mask", "token_type_ids", "input_ids"]))
    j = data.draw(st.integers(1, eff - 2))
    enc[key][row][j] = {"attention_mask": 0, "token_type_ids": 2, "input_ids": 0}[key]
    with pytest.raises(EncodingError):
        check_encoding({k: torch.tensor(v) for k, v in enc.items()})


# --- choose_device ----------------------------------------------------------------------------------
@SETTINGS
@given(
    requested=st.one_of(
        st.text(max_size=12),
        st.sampled_from(["cpu", "CPU", " auto ", "cuda", "cuda:7", "mps", "gpu", "cpu:0", "meta", "", " "]),
    ),
    via_env=st.booleans(),
)
def test_choose_device_gives_a_usable_device_or_a_device_error(requested: str, via_env: bool) -> None:
    saved = os.environ.get("JBERT_DEVICE")
    try:
        if via_env:
            assume("\x00" not in requested)  # an environment variable cannot hold NUL
            os.environ["JBERT_DEVICE"] = requested
        try:
            choice = choose_device(None if via_env else requested)
        except DeviceError as e:
            assert "cpu" in str(e) and "auto" in str(e)  # the fix is named
            assert "JBERT_DEVICE" in str(e) or not via_env  # and where the bad value came from
            return
        assert choice.reason
        torch.zeros(1, device=choice.device)  # usable here
        if requested.strip().lower() in {"cpu", "cpu:0"}:
            assert choice.device.type == "cpu"
    finally:
        if saved is None:
            os.environ.pop("JBERT_DEVICE", None)
        else:
            os.environ["JBERT_DEVICE"] = saved


# --- wordpiece_tokenize (saved from lesson 04-05) ---------------------------------------------------
words = st.text(
    st.sampled_from(HIRAGANA + KATAKANA + KANJI + HALF_WIDTH_KANA + list("😀👍🍣🤖") + list(string.ascii_letters)),
    min_size=1,
    max_size=30,
)


@pytest.fixture(scope="module")
def vocab_characters(tokenizer: BertJapaneseTokenizer) -> list[str]:
    """Every character that occurs in the vocabulary's entries (without the ## of continuations), sorted."""
    return sorted({ch for entry in tokenizer.vocab for ch in entry.removeprefix("##") if not ch.isspace()})


@SETTINGS
@given(data=st.data())
def test_wordpiece_tokenize_matches_the_library_on_the_vocabularys_characters(
    tokenizer: BertJapaneseTokenizer, vocab_characters: list[str], data: st.DataObject
) -> None:
    from jbert_helpers import WordPieceStep, wordpiece_tokenize

    # mostly the vocabulary's characters, sometimes a character it lacks (which makes the word [UNK])
    alphabet = st.one_of(st.sampled_from(vocab_characters), st.sampled_from(list("习这😀𩸽")))
    word = data.draw(st.one_of(st.text(alphabet, min_size=1, max_size=12), words), label="word")
    sub = tokenizer.subword_tokenizer
    steps: list[WordPieceStep] = []
    pieces = wordpiece_tokenize(word, tokenizer.vocab, sub.unk_token, sub.max_input_chars_per_word, steps)
    assert pieces == sub.tokenize(word)
    if pieces != [sub.unk_token]:  # the pieces spell the word, one step per piece
        assert "".join(p.removeprefix("##") if k else p for k, p in enumerate(pieces)) == word
        assert [s.match for s in steps] == pieces
    else:  # the last step found nothing
        assert steps[-1].match is None


@SETTINGS
@given(word=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Zs", "Cc")), min_size=1, max_size=12))
def test_wordpiece_tokenize_matches_the_library_on_any_characters(tokenizer: BertJapaneseTokenizer, word: str) -> None:
    from jbert_helpers import wordpiece_tokenize

    assume(not any(ch.isspace() for ch in word))
    assert wordpiece_tokenize(word, tokenizer.vocab) == tokenizer.subword_tokenizer.tokenize(word)


@FEW
@given(
    word=st.one_of(
        st.integers(),
        st.none(),
        st.lists(st.text()),
        words.flatmap(lambda w: st.sampled_from([w + " x", " " + w, w + "\u3000"])),
    )
)
def test_wordpiece_tokenize_rejects_non_words(tokenizer: BertJapaneseTokenizer, word: object) -> None:
    from jbert_helpers import wordpiece_tokenize

    with pytest.raises((TypeError, ValueError), match="1 語|空白"):
        wordpiece_tokenize(word, tokenizer.vocab)  # type: ignore[arg-type]
