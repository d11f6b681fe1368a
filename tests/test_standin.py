"""The offline stand-in: a replica of the Hub artifact (files, config fields, checkpoint keys, what
loading prints), real vocabulary and ids, deterministic bytes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoTokenizer, BertConfig, BertJapaneseTokenizer

from jbert_helpers.standin import (
    HEAD_KEYS,
    MARKER,
    WEIGHTS_NAME,
    build_conversion_safetensors,
    build_standin,
    ensure_standin,
    is_standin,
    standin_problem,
)

# Printed by the real model in the seed notebook (../shared/seed), which ran under unidic_lite.
SEED_IDS_UNIDIC = {
    "明日は自然言語処理の勉強をしよう。": [2, 11475, 9, 1757, 1882, 2762, 5, 8192, 11, 2132, 28489, 8, 3],
    "明日の天気は晴れだ。": [2, 11475, 5, 11385, 9, 16577, 75, 8, 3],
    "パソコンが急に動かなくなった。": [2, 6311, 14, 1132, 7, 16084, 332, 58, 10, 8, 3],
}
SEED_TOKENS_UNIDIC = {
    "明日はマシーンラーニングの勉強をしよう。": [
        "[CLS]",
        "明日",
        "は",
        "マ",
        "##シーン",
        "ラー",
        "##ニング",
        "の",
        "勉強",
        "を",
        "しよ",
        "##う",
        "。",
        "[SEP]",
    ],
}
# Measured with the real vocabulary under ipadic, the model's training dictionary (ARCHITECTURE.md).
IPADIC_IDS = {"明日は自然言語処理の勉強をしよう。": [2, 11475, 9, 1757, 1882, 2762, 5, 8192, 11, 2132, 205, 8, 3]}
IPADIC_TOKENS = {
    "明日はマシーンラーニングの勉強をしよう。": ["マ", "##シーン", "##ラー", "##ニング"],
    "明日はマシンラーニングの勉強をしよう。": ["マシン", "##ラー", "##ニング"],
    "機械学習を中国語にすると机器学习だ。": ["と", "机", "器", "学", "[UNK]", "だ", "。"],
}
# sha256 of pytorch_model.bin and of the conversion PR's model.safetensors, built with the pinned
# numpy/torch/safetensors: the same on every machine (measured on two builds in different folders).
WEIGHTS_SHA256 = "306390b5fffae4377a873717b6bc9c04a1df15c5adf44c5c4dbf74fd602a28fa"
CONVERTED_SHA256 = "58806b2807b96b117d5376f3659ba164ab02b9b943b570700865b2eb0ffbc1e8"
# Sizes the reference notebook's download log shows for the real repo (tokenizer_config.json 120 B,
# config.json 479 B), and the checkpoint's unused keys as public logs of BertModel.from_pretrained list them.
HUB_SIZES = {"tokenizer_config.json": 120, "config.json": 479, "vocab.txt": 257703}
REAL_UNUSED_KEYS = {
    "cls.predictions.bias",
    "cls.predictions.decoder.weight",
    "cls.predictions.transform.dense.weight",
    "cls.predictions.transform.dense.bias",
    "cls.predictions.transform.LayerNorm.weight",
    "cls.predictions.transform.LayerNorm.bias",
    "cls.seq_relationship.weight",
    "cls.seq_relationship.bias",
}


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
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (
        0,
        1,
        2,
        3,
        4,
    )
    assert len(tok.vocab) == 32000


def test_model_has_the_real_architecture(standin: Path) -> None:
    cfg = BertConfig.from_pretrained(str(standin))
    real = dict(
        vocab_size=32000,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
        type_vocab_size=2,
        hidden_act="gelu",
    )
    assert {k: getattr(cfg, k) for k in real} == real


def test_parameter_count_is_bert_base(standin: Path) -> None:
    from transformers import BertModel

    model = BertModel.from_pretrained(str(standin))
    V, H, P, T, I, L = 32000, 768, 512, 2, 3072, 12  # noqa: E741, N806
    embeddings = (V + P + T) * H + 2 * H
    layer = 4 * (H * H + H) + (H * I + I) + (I * H + H) + 2 * 2 * H
    assert sum(p.numel() for p in model.parameters()) == embeddings + L * layer + (H * H + H)
    assert is_standin(standin)


def test_files_are_those_of_the_hub_main(standin: Path) -> None:
    assert sorted(p.name for p in standin.iterdir()) == sorted([*HUB_SIZES, WEIGHTS_NAME, MARKER])
    assert {n: (standin / n).stat().st_size for n in HUB_SIZES} == HUB_SIZES
    cfg = json.loads((standin / "config.json").read_text())
    assert cfg["architectures"] == ["BertForMaskedLM"] and cfg["tokenizer_class"] == "BertJapaneseTokenizer"
    assert (standin / WEIGHTS_NAME).read_bytes()[:2] == b"PK"  # torch.save's zip format, as the Hub's .bin


@pytest.mark.slow  # a fresh interpreter or a model rebuilt: `make ci`
def test_bertmodel_prints_the_real_load_report(standin: Path) -> None:
    """The 8 pre-training head keys are reported as UNEXPECTED on stderr, as with the real checkpoint."""
    code = "import sys; from transformers import BertModel; BertModel.from_pretrained(sys.argv[1])"
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(standin)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "BertModel LOAD REPORT" in done.stderr
    rows = {line.split("|")[0].strip() for line in done.stderr.splitlines() if "| UNEXPECTED" in line}
    assert rows == REAL_UNUSED_KEYS == set(HEAD_KEYS)


@pytest.mark.parametrize("cls_name", ["BertForMaskedLM", "BertForPreTraining"])
def test_pretraining_heads_load_with_nothing_missing(standin: Path, cls_name: str) -> None:
    import torch
    import transformers

    model, info = getattr(transformers, cls_name).from_pretrained(str(standin), output_loading_info=True)
    assert not info["missing_keys"]
    decoder, embeddings = model.cls.predictions.decoder.weight, model.bert.embeddings.word_embeddings.weight
    assert decoder.data_ptr() == embeddings.data_ptr()  # tied, as in the checkpoint
    assert torch.count_nonzero(model.cls.predictions.transform.dense.weight) > 0  # loaded, not left at 0


@pytest.mark.slow  # a fresh interpreter or a model rebuilt: `make ci`
def test_conversion_safetensors_is_the_bots_file(tmp_path: Path, standin: Path) -> None:
    """model.safetensors of refs/pr/1: the .bin's tensors, the tied decoder dropped and named in the metadata."""
    from safetensors import safe_open
    from transformers import BertModel

    target = build_conversion_safetensors(tmp_path / "pr" / "model.safetensors")
    assert _sha(target) == CONVERTED_SHA256
    with safe_open(str(target), "np") as f:
        keys, meta = set(f.keys()), f.metadata()
    assert REAL_UNUSED_KEYS - keys == {"cls.predictions.decoder.weight"}
    assert meta == {"format": "pt", "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight"}
    for name in ("config.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copyfile(standin / name, tmp_path / "pr" / name)
    a = BertModel.from_pretrained(str(tmp_path / "pr")).state_dict()
    b = BertModel.from_pretrained(str(standin)).state_dict()
    assert all(a[k].equal(b[k]) for k in b)  # the same model either way
    shutil.rmtree(tmp_path / "pr")


def test_another_seed_gives_other_weights_in_another_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jbert_helpers.errors import StandinError
    from jbert_helpers.standin import SEED_ENV, standin_path

    monkeypatch.setenv(SEED_ENV, "7")
    assert standin_path(tmp_path).name.endswith("-seed7")
    monkeypatch.setenv(SEED_ENV, "seven")
    with pytest.raises(StandinError, match=SEED_ENV):
        standin_path(tmp_path)


@pytest.mark.slow  # a fresh interpreter or a model rebuilt: `make ci`
def test_build_is_deterministic(tmp_path: Path, standin: Path) -> None:
    built = build_standin(tmp_path / "a")
    assert _sha(built / WEIGHTS_NAME) == WEIGHTS_SHA256
    for name in ("vocab.txt", "config.json", "tokenizer_config.json", MARKER):
        assert (built / name).read_bytes() == (standin / name).read_bytes(), name
    shutil.rmtree(built)  # ~440 MB: do not leave it in pytest's kept temp directories


@pytest.mark.slow  # a fresh interpreter or a model rebuilt: `make ci`
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
