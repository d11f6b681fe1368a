"""Tests of jbert_helpers.params: the formula must agree with what torch actually allocates.

Expected counts come from instantiating the library's own BertModel on the meta device (no
memory), never from the formula under test.
"""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForPreTraining, BertModel

from jbert_helpers import JbertError
from jbert_helpers.params import counted_breakdown, formula_breakdown

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
    assert formula_breakdown(BertConfig(**REAL)).total == 110_617_344


@pytest.mark.parametrize("cfg", [REAL, SMALL, {**SMALL, "num_hidden_layers": 1, "type_vocab_size": 1}])
def test_formula_equals_torch(cfg):
    assert formula_breakdown(BertConfig(**cfg)).total == _numel(_meta_model(cfg))


def test_formula_without_pooler():
    b = formula_breakdown(SMALL, pooler=False)
    assert b.pooler == 0
    assert b.total == _numel(_meta_model(SMALL, add_pooling_layer=False))


def test_counted_parts_equal_formula_parts():
    model = _meta_model(SMALL)
    counted = counted_breakdown(model)
    assert counted == formula_breakdown(model.config)
    assert counted.num_layers == 3
    assert counted.total == _numel(model)
    assert counted.pooler == 16 * 16 + 16
    assert counted.embeddings == (100 + 20 + 3) * 16 + 2 * 16


def test_formula_accepts_a_dict():
    assert formula_breakdown(REAL) == formula_breakdown(BertConfig(**REAL))


def test_counted_refuses_a_model_with_heads():
    with torch.device("meta"):
        model = BertForPreTraining(BertConfig(**SMALL))
    with pytest.raises(JbertError, match="model.bert"):
        counted_breakdown(model)
    assert counted_breakdown(model.bert).total == _numel(_meta_model(SMALL))


def test_counted_refuses_a_non_model():
    with pytest.raises(JbertError, match="named_parameters"):
        counted_breakdown([1, 2, 3])


@pytest.mark.parametrize("bad", [None, -1, 3.5, True, "768"])
def test_bad_config_field_names_the_field(bad):
    with pytest.raises(JbertError, match="hidden_size"):
        formula_breakdown({**REAL, "hidden_size": bad})


def test_missing_field_is_reported():
    cfg = dict(REAL)
    del cfg["intermediate_size"]
    with pytest.raises(JbertError, match="intermediate_size"):
        formula_breakdown(cfg)


def test_str_is_a_table_with_the_total():
    text = str(formula_breakdown(REAL))
    assert "110,617,344" in text and "12 層" in text
