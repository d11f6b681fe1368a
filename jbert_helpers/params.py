"""Counting a BERT's parameters: by formula from its config, and by part from the model itself.

``BertModel`` (Devlin et al. 2019) has three parts whose sizes follow from the config alone
(V = ``vocab_size``, H = ``hidden_size``, P = ``max_position_embeddings``, T = ``type_vocab_size``,
I = ``intermediate_size``, N = ``num_hidden_layers``):

* embeddings: word V·H + position P·H + token type T·H + LayerNorm 2H;
* one encoder layer: Q, K, V and the attention output 4(H² + H), two LayerNorms 2·2H,
  the feed-forward network (H·I + I) + (I·H + H);
* pooler: H² + H.

:func:`formula_breakdown` computes these from a config; :func:`counted_breakdown` counts the
same parts in a model's ``named_parameters()``, so that a lesson can check the one against the
other. Introduced in lesson 04-15.

Example::

    >>> from transformers import BertConfig
    >>> b = formula_breakdown(BertConfig(vocab_size=32000))
    >>> b.embeddings, b.per_layer, b.pooler, b.total
    (24972288, 7087872, 590592, 110617344)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ParamCountError

#: The config fields the formula needs.
FIELDS = (
    "vocab_size",
    "hidden_size",
    "max_position_embeddings",
    "type_vocab_size",
    "intermediate_size",
    "num_hidden_layers",
)


@dataclass(frozen=True)
class ParamBreakdown:
    """Parameters per part of a ``BertModel``: embeddings, one encoder layer (× layers), pooler."""

    embeddings: int
    per_layer: int
    num_layers: int
    pooler: int

    @property
    def encoder(self) -> int:
        """All encoder layers together."""
        return self.per_layer * self.num_layers

    @property
    def total(self) -> int:
        """The whole model."""
        return self.embeddings + self.encoder + self.pooler

    def __str__(self) -> str:
        rows = [
            ("embeddings", self.embeddings),
            (f"encoder ({self.num_layers} 層 × {self.per_layer:,})", self.encoder),
            ("pooler", self.pooler),
            ("合計", self.total),
        ]
        return "\n".join(f"{name:<28} {n:>13,}" for name, n in rows)


def _field(config: object, name: str) -> int:
    value = config.get(name) if isinstance(config, Mapping) else getattr(config, name, None)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParamCountError(
            f"config の {name} が {value!r} です。0 以上の整数のはずです: "
            "bert.config (BertConfig) か、config.json を読んだ辞書を渡してください。"
        )
    return value


def formula_breakdown(config: object, *, pooler: bool = True) -> ParamBreakdown:
    """Parameter counts of a ``BertModel`` with ``config``, by formula (see the module docstring).

    ``config`` is a ``BertConfig`` (``bert.config``) or a dict with the :data:`FIELDS`;
    ``pooler=False`` for ``BertModel(config, add_pooling_layer=False)``.

    >>> formula_breakdown({"vocab_size": 10, "hidden_size": 2, "max_position_embeddings": 3,
    ...                    "type_vocab_size": 2, "intermediate_size": 4, "num_hidden_layers": 1}).total
    94
    """
    v, h, p, t, i, n = (_field(config, name) for name in FIELDS)
    embeddings = v * h + p * h + t * h + 2 * h
    per_layer = 4 * (h * h + h) + 2 * (2 * h) + (h * i + i) + (i * h + h)
    return ParamBreakdown(embeddings, per_layer, n, (h * h + h) if pooler else 0)


def counted_breakdown(model: object) -> ParamBreakdown:
    """Count the parameters of a ``BertModel`` per part, from ``model.named_parameters()``.

    Raises :class:`ParamCountError` if a parameter belongs to none of the parts (e.g. a
    ``BertForPreTraining``, whose heads are not part of ``BertModel``: pass ``model.bert``) or
    the encoder layers differ in size.
    """
    named = getattr(model, "named_parameters", None)
    if named is None:
        raise ParamCountError(
            f"{type(model).__name__} には named_parameters() がありません。BertModel を渡してください。"
        )
    embeddings = pooler = 0
    layers: dict[int, int] = {}
    for name, param in named():
        if name.startswith("embeddings."):
            embeddings += param.numel()
        elif name.startswith("pooler."):
            pooler += param.numel()
        elif name.startswith("encoder.layer."):
            index = int(name.split(".")[2])
            layers[index] = layers.get(index, 0) + param.numel()
        else:
            raise ParamCountError(
                f"パラメータ {name} は embeddings / encoder.layer / pooler のどれでもありません。"
                "BertModel (タスク用の頭のないモデル) を渡してください: BertFor… なら model.bert です。"
            )
    sizes = set(layers.values())
    if len(sizes) > 1:
        raise ParamCountError(f"エンコーダ層ごとのパラメータ数が揃っていません: {sorted(sizes)}")
    return ParamBreakdown(embeddings, sizes.pop() if sizes else 0, len(layers), pooler)
