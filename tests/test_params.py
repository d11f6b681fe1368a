"""Tests of lesson 04-15's saved ``formula_by_part`` / ``count_by_part``: the formula must agree with torch.

Expected counts come from instantiating the library's own BertModel on the meta device (no
memory), never from the formula under test.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from transformers import BertConfig, BertForPreTraining, BertModel

from jbert_helpers import ParamCountError, count_by_part, formula_by_part
from jbert_helpers.errors import JbertError

REAL = {  # tohoku-nlp/bert-base-japanese-whole-word-masking
    "vocab_size": 32000,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}
SMALL = {
    "vocab_size": 100,
    "hidden_size": 16,
    "num_hidden_layers": 3,
    "num_attention_heads": 2,
    "intermediate_size": 24,
    "max_position_embeddings": 20,
    "type_vocab_size": 3,
}


def _meta_model(cfg: dict, **kwargs) -> BertModel:
    with torch.device("meta"):
        return BertModel(BertConfig(**cfg), **kwargs)


def _numel(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_real_model_count_is_the_known_one():
    # 110,617,344: the count printed for the Tohoku BertModel (with pooler) in lesson 04-14
    parts = formula_by_part(BertConfig(**REAL))
    assert sum(parts.values()) == 110_617_344
    assert list(parts) == ["embeddings", *(f"encoder.layer.{n}" for n in range(12)), "pooler"]
    assert parts["embeddings"] == 24_972_288 and parts["encoder.layer.5"] == 7_087_872 and parts["pooler"] == 590_592


@pytest.mark.parametrize("cfg", [REAL, SMALL, {**SMALL, "num_hidden_layers": 1, "type_vocab_size": 1}])
def test_formula_equals_torch(cfg):
    assert sum(formula_by_part(BertConfig(**cfg)).values()) == _numel(_meta_model(cfg))


def test_formula_without_pooler():
    parts = formula_by_part(BertConfig(**SMALL), pooler=False)
    assert "pooler" not in parts
    assert sum(parts.values()) == _numel(_meta_model(SMALL, add_pooling_layer=False))
    assert count_by_part(_meta_model(SMALL, add_pooling_layer=False)) == parts


def test_counted_parts_equal_formula_parts():
    model = _meta_model(SMALL)
    counted = count_by_part(model)
    assert counted == formula_by_part(model.config)
    assert len([p for p in counted if p.startswith("encoder.layer.")]) == 3
    assert sum(counted.values()) == _numel(model)
    assert counted["pooler"] == 16 * 16 + 16
    assert counted["embeddings"] == (100 + 20 + 3) * 16 + 2 * 16


def test_counted_refuses_a_model_with_heads():
    with torch.device("meta"):
        model = BertForPreTraining(BertConfig(**SMALL))
    with pytest.raises(ParamCountError, match="model.bert"):
        count_by_part(model)
    assert sum(count_by_part(model.bert).values()) == _numel(_meta_model(SMALL))


def test_counted_refuses_a_non_model():
    with pytest.raises(JbertError, match="named_parameters"):
        count_by_part([1, 2, 3])  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [None, -1, 3.5, True, "768"])
def test_bad_config_field_names_the_field(bad):
    config = SimpleNamespace(**{**REAL, "hidden_size": bad})  # BertConfig itself refuses such a value
    with pytest.raises(JbertError, match="hidden_size"):
        formula_by_part(config)  # type: ignore[arg-type]


def test_missing_field_is_reported():
    with pytest.raises(JbertError, match="intermediate_size"):
        formula_by_part({"vocab_size": 10})  # type: ignore[arg-type]
