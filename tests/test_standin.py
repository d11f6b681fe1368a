"""The offline stand-in: real vocabulary and ids, real architecture, deterministic bytes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from transformers import AutoTokenizer, BertConfig, BertJapaneseTokenizer

from jbert_helpers.standin import MARKER, build_standin, ensure_standin, is_standin, standin_problem

# Printed by the real model in the seed notebook (../shared/seed), which ran under unidic_lite.
SEED_IDS_UNIDIC = {
    "明日は自然言語処理の勉強をしよう。": [2, 11475, 9, 1757, 1882, 2762, 5, 8192, 11, 2132, 28489, 8, 3],
    "明日の天気は晴れだ。": [2, 11475, 5, 11385, 9, 16577, 75, 8, 3],
    "パソコンが急に動かなくなった。": [2, 6311, 14, 1132, 7, 16084, 332, 58, 10, 8, 3],
}
SEED_TOKENS_UNIDIC = {
    "明日はマシーンラーニングの勉強をしよう。": [
        "[CLS]", "明日", "は", "マ", "##シーン", "ラー", "##ニング", "の", "勉強", "を", "しよ", "##う", "。", "[SEP]",
    ],
}
# Measured with the real vocabulary under ipadic, the model's training dictionary (ARCHITECTURE.md).
IPADIC_IDS = {"明日は自然言語処理の勉強をしよう。": [2, 11475, 9, 1757, 1882, 2762, 5, 8192, 11, 2132, 205, 8, 3]}
IPADIC_TOKENS = {
    "明日はマシーンラーニングの勉強をしよう。": ["マ", "##シーン", "##ラー", "##ニング"],
    "明日はマシンラーニングの勉強をしよう。": ["マシン", "##ラー", "##ニング"],
    "機械学習を中国語にすると机器学习だ。": ["と", "机", "器", "学", "[UNK]", "だ", "。"],
}
# sha256 of model.safetensors built with the pinned numpy/safetensors: the same on every machine.
WEIGHTS_SHA256 = "c38adcecccee67a51e70b1cae92ad818001eeed2f8db56b1fdb0568da15d5172"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def standin() -> Path:
    return ensure_standin()


@pytest.fixture(scope="module")
def unidic(standin: Path) -> BertJapaneseTokenizer:
    return BertJapaneseTokenizer.from_pretrained(str(standin), mecab_kwargs={"mecab_dic": "unidic_lite"})


@pytest.fixture(scope="module")
def ipadic(standin: Path) -> BertJapaneseTokenizer:
    return BertJapaneseTokenizer.from_pretrained(str(standin), mecab_kwargs={"mecab_dic": "ipadic"})


@pytest.mark.parametrize("text", sorted(SEED_IDS_UNIDIC))
def test_seed_ids_under_unidic(unidic: BertJapaneseTokenizer, text: str) -> None:
    assert unidic.encode(text) == SEED_IDS_UNIDIC[text]


def test_seed_tokens_under_unidic(unidic: BertJapaneseTokenizer) -> None:
    for text, tokens in SEED_TOKENS_UNIDIC.items():
        assert unidic.convert_ids_to_tokens(unidic.encode(text)) == tokens


def test_ipadic_splits(ipadic: BertJapaneseTokenizer) -> None:
    for text, ids in IPADIC_IDS.items():
        assert ipadic.encode(text) == ids
    for text, piece in IPADIC_TOKENS.items():
        tokens = ipadic.tokenize(text)
        assert any(tokens[i : i + len(piece)] == piece for i in range(len(tokens))), tokens


def test_config_has_no_pinned_dictionary_and_autotokenizer_loads(standin: Path) -> None:
    cfg = json.loads((standin / "tokenizer_config.json").read_text())
    assert "mecab_kwargs" not in cfg
    assert cfg["word_tokenizer_type"] == "mecab" and cfg["subword_tokenizer_type"] == "wordpiece"
    tok = AutoTokenizer.from_pretrained(str(standin))
    assert type(tok).__name__ == "BertJapaneseTokenizer"
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (0, 1, 2, 3, 4)
    assert len(tok.vocab) == 32000


def test_model_has_the_real_architecture(standin: Path) -> None:
    cfg = BertConfig.from_pretrained(str(standin))
    real = dict(vocab_size=32000, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu")
    assert {k: getattr(cfg, k) for k in real} == real


def test_parameter_count_is_bert_base(standin: Path) -> None:
    from transformers import BertModel

    model = BertModel.from_pretrained(str(standin))
    V, H, P, T, I, L = 32000, 768, 512, 2, 3072, 12  # noqa: E741, N806
    embeddings = (V + P + T) * H + 2 * H
    layer = 4 * (H * H + H) + (H * I + I) + (I * H + H) + 2 * 2 * H
    assert sum(p.numel() for p in model.parameters()) == embeddings + L * layer + (H * H + H)
    assert is_standin(standin)
    assert not any(p.name.endswith(".bin") for p in standin.iterdir())


def test_build_is_deterministic(tmp_path: Path, standin: Path) -> None:
    built = build_standin(tmp_path / "a")
    assert _sha(built / "model.safetensors") == WEIGHTS_SHA256
    for name in ("vocab.txt", "config.json", "tokenizer_config.json", MARKER):
        assert (built / name).read_bytes() == (standin / name).read_bytes(), name
    shutil.rmtree(built)  # ~440 MB: do not leave it in pytest's kept temp directories


def test_a_damaged_copy_is_detected_and_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    path = ensure_standin(root)
    assert standin_problem(path) is None
    (path / "config.json").write_text("{}")
    assert "config.json" in (standin_problem(path) or "")
    (path / MARKER).unlink()
    assert standin_problem(path) is not None
    again = ensure_standin(root)
    assert again == path and standin_problem(again) is None
    assert json.loads((again / "config.json").read_text())["num_hidden_layers"] == 12
    assert [p.name for p in root.iterdir() if p.name.startswith(".standin-build")] == []
    shutil.rmtree(root)
