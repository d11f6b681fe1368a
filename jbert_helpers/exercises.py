"""演習 (exercises): a check cell that tells the learner whether their answer is right.

Every lesson ends with one or two exercises. The learner writes the answer into a variable
(left as ``...`` in the stored notebook) and runs the check cell. The check cell is one call,

    check_exercise("04-07-1", answer, tokenizer=tokenizer)

so that it shows neither the expected answer nor the code that computes it. The expected answer
is computed here, from the lesson's own objects (the tokenizer, the model) when it depends on
them, by the function registered under the exercise's key (``"<lesson>-<number>"``).
:func:`check` is the plain verdict underneath, for an answer compared with a known value (what
:func:`check_exercise` calls; not exported from ``jbert_helpers``: no lesson calls it, and the grader
knows only the ``check_exercise`` form).

Example::

    >>> check(..., 13, what="トークン数")
    ⏳ トークン数: まだ答えが入っていません (... を答えに書き換えてから実行してください)
    >>> check(13, 13, what="トークン数")
    ✅ トークン数: 正解です
    >>> check(12, 13, what="トークン数", hint="[CLS] と [SEP] も数えます")
    ❌ トークン数: 12 ではありません。ヒント: [CLS] と [SEP] も数えます
    >>> check_exercise("04-02-2", 50_331_648)
    ✅ L=256 の L²·H: 正解です
    >>> check_exercise("04-02-2", 786_432)
    ❌ L=256 の L²·H: 786432 ではありません。ヒント: 256 × 256 × 768 を計算します
    >>> expected_answer("04-09-2")
    0.8176

An exercise whose answer is a tensor (lesson 04-18a: rebuild a layer's output) is compared with
:func:`tensors_close`, the same tolerance the lesson states (:data:`TENSOR_ATOL`), and a wrong
tensor is described by its shape, never printed::

    >>> import torch
    >>> check(torch.ones(2, 3), torch.ones(2, 3) + 1e-7, what="埋め込み", same=tensors_close)
    ✅ 埋め込み: 正解です
    >>> check(torch.ones(2, 3), torch.zeros(2, 3), what="埋め込み", hint="表を 3 つ足します", same=tensors_close)
    ❌ 埋め込み: 形 (2, 3) のテンソルですが、値が一致しません。ヒント: 表を 3 つ足します
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    import torch

from .errors import ExerciseError

#: Tolerance of a tensor answer (:func:`tensors_close`), the ``atol`` lesson 04-18a uses with
#: ``torch.allclose``: float32 keeps about 7 significant digits (unit roundoff 2**-24 ≈ 6e-8), so
#: the same sum taken in another order, or LayerNorm computed by another kernel, differs by about
#: 1e-7 to 1e-6 on values of size 1; 1e-5 leaves a margin of 10 or more, while a real mistake (a
#: missing table, the wrong eps, the tanh GELU, no mask) moves values by 1e-4 or far more.
TENSOR_ATOL = 1e-5


def _is_tensor(value: object) -> TypeGuard[torch.Tensor]:
    return hasattr(value, "detach") and hasattr(value, "shape")


def tensors_close(answer: object, expected: object, *, atol: float = TENSOR_ATOL) -> bool:
    """Whether ``answer`` is a tensor of ``expected``'s shape whose values are within ``atol`` of it.

    The call is the lesson's own, ``torch.allclose(answer, expected, atol=atol)`` (``rtol`` keeps
    its default 1e-5), on the CPU in float64, so a float64 or a GPU answer is judged by its values.
    Anything that is not a tensor is not close.

    >>> import torch
    >>> tensors_close(torch.zeros(2), torch.full((2,), 5e-6)), tensors_close(torch.zeros(2), torch.full((2,), 5e-5))
    (True, False)
    >>> tensors_close(torch.zeros(1, 2), torch.zeros(2)), tensors_close([0.0, 0.0], torch.zeros(2))
    (False, False)
    """
    if not (_is_tensor(answer) and _is_tensor(expected)):
        return False
    import torch

    a = answer.detach().cpu().to(torch.float64)
    e = expected.detach().cpu().to(torch.float64)
    return a.shape == e.shape and bool(torch.allclose(a, e, atol=atol))


def _shown(answer: object) -> str:
    """How a wrong answer is named: its repr (cut at 80 characters), or for a tensor its shape."""
    if _is_tensor(answer):
        return f"形 {tuple(answer.shape)} のテンソルですが、値が一致しません"
    text = repr(answer)
    return f"{text if len(text) <= 80 else text[:79] + '…'} ではありません"


def check(
    answer: object,
    expected: object,
    *,
    what: str = "答え",
    hint: str = "",
    same: Callable[[object, object], bool] = operator.eq,
) -> None:
    """Print whether ``answer`` equals ``expected``; ``...`` means "not answered yet".

    ``same(answer, expected)`` decides (``==`` unless the exercise says otherwise, e.g.
    :func:`tensors_close`). Returns nothing, so the check cell shows only the printed verdict.
    """
    if answer is Ellipsis:
        print(f"⏳ {what}: まだ答えが入っていません (... を答えに書き換えてから実行してください)")
        return
    if same(answer, expected):
        print(f"✅ {what}: 正解です")
        return
    tail = f"。ヒント: {hint}" if hint else "。もう一度考えてみましょう"
    print(f"❌ {what}: {_shown(answer)}{tail}")


@dataclass(frozen=True)
class Exercise:
    """One exercise: what the check cell names, the hint shown on a wrong answer, the answer.

    ``needs`` names the lesson objects ``expected`` takes as keyword arguments
    (``tokenizer``, ``bert``); ``expected`` computes the answer from them; ``same`` compares
    the learner's answer with it (``==``, or :func:`tensors_close` for a tensor answer).
    """

    key: str
    what: str
    hint: str
    needs: tuple[str, ...]
    expected: Callable[..., object]
    same: Callable[[object, object], bool] = operator.eq


EXERCISES: dict[str, Exercise] = {}


def _exercise(
    key: str, what: str, hint: str, *needs: str, same: Callable[[object, object], bool] = operator.eq
) -> Callable[[Callable[..., object]], Callable[..., object]]:
    def register(expected: Callable[..., object]) -> Callable[..., object]:
        if key in EXERCISES:
            raise ValueError(f"exercise {key} is registered twice")
        EXERCISES[key] = Exercise(key, what, hint, needs, expected, same)
        return expected

    return register


def _lookup(key: str, objects: dict[str, Any]) -> Exercise:
    exercise = EXERCISES.get(key)
    if exercise is None:
        raise ExerciseError(f"演習 {key!r} はありません (ある演習: {', '.join(sorted(EXERCISES))})")
    missing = [name for name in exercise.needs if name not in objects]
    if missing:
        args = ", ".join(f"{name}={name}" for name in exercise.needs)
        raise ExerciseError(
            f"演習 {key} の確認には {', '.join(missing)} が要ります: check_exercise({key!r}, answer, {args})"
        )
    return exercise


def expected_answer(key: str, **objects: Any) -> object:
    """The expected answer of exercise ``key``, computed from the lesson objects it needs.

    Raises :class:`ExerciseError` for an unknown key or a missing object.
    """
    exercise = _lookup(key, objects)
    return exercise.expected(**{name: objects[name] for name in exercise.needs})


def check_exercise(key: str, answer: object, **objects: Any) -> None:
    """Print the verdict on ``answer`` for exercise ``key`` (⏳ unanswered, ✅ right, ❌ wrong + hint).

    ``objects`` are the lesson's objects the answer is computed from (``tokenizer=tokenizer``,
    ``bert=bert``); the check cell passes them and shows nothing else. An unknown key or a
    missing object raises :class:`ExerciseError` even before the learner has answered.
    """
    exercise = _lookup(key, objects)
    if answer is Ellipsis:
        check(answer, None, what=exercise.what)
        return
    check(answer, expected_answer(key, **objects), what=exercise.what, hint=exercise.hint, same=exercise.same)


# ---------------------------------------------------------------------------------------------
# The exercises, lesson by lesson. Each function computes its answer the way the lesson teaches.

WEATHER = "明日の天気は晴れだ。"
PC = "パソコンが急に動かなくなった。"
CHINESE = "機械学習を中国語にすると机器学习だ。"
BATCH = ["明日は自然言語処理の勉強をしよう。", "明日はマシーンラーニングの勉強をしよう。"]


def _unk_words(tokenizer: Any, sentence: str) -> list[str]:
    return [
        w
        for w in tokenizer.word_tokenizer.tokenize(sentence)
        if tokenizer.subword_tokenizer.tokenize(w) == [tokenizer.unk_token]
    ]


@_exercise("04-02-1", "セグメント 1 の位置の数", "文 B のトークンと、最後の [SEP] を数えます", "tokenizer")
def _segment_b_positions(*, tokenizer: Any) -> int:
    return sum(tokenizer(WEATHER, PC, return_token_type_ids=True)["token_type_ids"])


@_exercise("04-02-2", "L=256 の L²·H", "256 × 256 × 768 を計算します")
def _l2h_256() -> int:
    return 256 * 256 * 768


@_exercise("04-03-1", "[MASK] の数", "ipadic の 1 語に属するサブワードを数えます", "tokenizer")
def _wwm_masks(*, tokenizer: Any) -> int:
    return len(tokenizer.subword_tokenizer.tokenize("ディープラーニング"))


@_exercise("04-03-2", "[UNK] になる語", "語ごとに tokenizer.subword_tokenizer.tokenize(word) を見ます", "tokenizer")
def _unk_word(*, tokenizer: Any) -> str:
    return _unk_words(tokenizer, CHINESE)[0]


@_exercise(
    "04-04-1",
    "語数とトークン数",
    "tokenizer.word_tokenizer.tokenize と tokenizer.tokenize の結果の len を取ります",
    "tokenizer",
)
def _words_and_tokens(*, tokenizer: Any) -> tuple[int, int]:
    sentence = "今日は映画を見に行こう。"
    return len(tokenizer.word_tokenizer.tokenize(sentence)), len(tokenizer.tokenize(sentence))


@_exercise(
    "04-04-2",
    "unidic_lite のトークン",
    "unidic_lite は「行こう」を 1 語にします。しよう と同じことが起きます",
    "tokenizer",
)
def _unidic_tokens(*, tokenizer: Any) -> list[str]:
    return tokenizer.tokenize("今日は映画を見に行こう。")


@_exercise(
    "04-05-1",
    "ディープラーニングのトークン",
    "先頭から語彙にある最長の断片を探します。続きには ## が付きます",
    "tokenizer",
)
def _deep_learning(*, tokenizer: Any) -> list[str]:
    return tokenizer.subword_tokenizer.tokenize("ディープラーニング")


@_exercise("04-05-2", "試した候補の数", "各手順の step.tried の長さを足します", "tokenizer")
def _candidates(*, tokenizer: Any) -> int:
    from .saved import WordPieceStep, wordpiece_tokenize

    steps: list[WordPieceStep] = []
    wordpiece_tokenize("マシーンラーニング", tokenizer.vocab, steps=steps)
    return sum(len(step.tried) for step in steps)


@_exercise("04-06-1", "[UNK] の数", "tokenizer.tokenize(文).count('[UNK]') で数えられます", "tokenizer")
def _unk_count(*, tokenizer: Any) -> int:
    return tokenizer.tokenize("这是一本书。").count(tokenizer.unk_token)


@_exercise(
    "04-06-2",
    "[UNK] になる語",
    "まず tokenizer.word_tokenizer.tokenize で語に分け、語ごとに subword_tokenizer.tokenize を見ます",
    "tokenizer",
)
def _unk_words_chinese(*, tokenizer: Any) -> list[str]:
    return _unk_words(tokenizer, "我喜欢学习日语。")


@_exercise("04-07-1", "系列長", "トークンが 9 個、それに特殊トークンが 2 つ付きます", "tokenizer")
def _sequence_length(*, tokenizer: Any) -> int:
    return len(tokenizer.encode(PC))


@_exercise("04-07-2", "decode の結果", "特殊トークンは消え、トークンの間には空白が入ります", "tokenizer")
def _decoded(*, tokenizer: Any) -> str:
    return tokenizer.decode(tokenizer.encode(WEATHER), skip_special_tokens=True)


@_exercise(
    "04-08-1", "「ＡＩ」の往復", "MeCab は文を分ける前に NFKC で正規化します。全角の英字は半角になります", "tokenizer"
)
def _nfkc_round_trip(*, tokenizer: Any) -> str:
    return tokenizer.decode(tokenizer.encode("ＡＩ"), skip_special_tokens=True)


@_exercise(
    "04-08-2",
    "convert_tokens_to_string の結果",
    "## の断片は前にくっつき、それ以外は空白で区切られます。特殊トークンも残ります",
    "tokenizer",
)
def _tokens_to_string(*, tokenizer: Any) -> str:
    return tokenizer.convert_tokens_to_string(["[CLS]", "マ", "##シーン", "##ラー", "##ニング", "[SEP]"])


@_exercise("04-09-1", "[PAD] の数", "系列長 16 から有効長を引きます", "tokenizer")
def _pads_16(*, tokenizer: Any) -> int:
    padded = tokenizer(WEATHER, max_length=16, padding="max_length", truncation=True)
    return padded["input_ids"].count(tokenizer.pad_token_id)


@_exercise("04-09-2", "1 番目のキーの重み", "残る 2 つのキー (スコア 2.0 と 0.5) だけで softmax を計算します")
def _masked_weight() -> float:
    return round(math.exp(2.0) / (math.exp(2.0) + math.exp(0.5)), 4)


@_exercise(
    "04-10-1",
    "切り落とされるトークン",
    "文のトークンは 明日/の/天気/は/晴れ/だ/。 の 7 つ、残せるのは 8 - 2 = 6 つです",
    "tokenizer",
)
def _overflow_8(*, tokenizer: Any) -> list[str]:
    enc = tokenizer(WEATHER, max_length=8, truncation=True, return_overflowing_tokens=True)
    return tokenizer.convert_ids_to_tokens(enc["overflowing_tokens"])


@_exercise("04-10-2", "num_truncated_tokens", "n + 2 - max_length で、n は 7 × 3 です", "tokenizer")
def _truncated_x3(*, tokenizer: Any) -> int:
    enc = tokenizer(WEATHER * 3, max_length=12, truncation=True, return_overflowing_tokens=True)
    return enc["num_truncated_tokens"]


@_exercise(
    "04-11-1", "失われるトークンの合計", "枠は 8 − 2 = 6。各文のトークン数は tokenizer.tokenize で数えます", "tokenizer"
)
def _lost_at_8(*, tokenizer: Any) -> int:
    return sum(
        len(tokenizer(text)["input_ids"]) - len(tokenizer(text, max_length=8, truncation=True)["input_ids"])
        for text in (WEATHER, PC)
    )


@_exercise("04-12-1", "系列長 L", "短い文を足しても、最長の行は変わりません", "tokenizer")
def _longest_3(*, tokenizer: Any) -> int:
    return len(tokenizer([WEATHER, PC, "今日は雨。"], padding="longest")["input_ids"][0])


@_exercise("04-12-2", "計算量の比", "比は (64 / 11) の 2 乗です", "tokenizer")
def _cost_ratio(*, tokenizer: Any) -> float:
    longest = len(tokenizer([WEATHER, PC], padding="longest")["input_ids"][0])
    return round((64 / longest) ** 2, 1)


@_exercise("04-13-1", "セグメント 1 のトークン数", "文 B のトークンに、最後の [SEP] を 1 つ足します", "tokenizer")
def _segment_b_tokens(*, tokenizer: Any) -> int:
    return sum(tokenizer("今日は雨だ。", "傘を持っていこう。", return_token_type_ids=True)["token_type_ids"])


@_exercise("04-13-2", "各行の有効長", "マスクの 1 を行ごとに足します: sum(dim=1)", "tokenizer")
def _effective_lengths(*, tokenizer: Any) -> list[int]:
    batch = tokenizer([WEATHER, PC], max_length=10, padding="max_length", truncation=True)
    return [sum(row) for row in batch["attention_mask"]]


@_exercise("04-13a-1", "dropped の開始位置", "NUL 文字の位置を 0 から数えます (全角数字も 1 文字です)", "tokenizer")
def _nul_start(*, tokenizer: Any) -> int:
    from .textcheck import check_text

    report = check_text(tokenizer, "価格は１００円です\x00(税込)")
    return next(f.start for f in report.findings if f.reason == "dropped")


@_exercise(
    "04-13a-2",
    "報告される理由",
    "まず tokenizer.tokenize で 6 トークンを見て、max_length=5 で残るのは先頭の 3 トークンです",
    "tokenizer",
)
def _reasons_after_truncation(*, tokenizer: Any) -> list[str]:
    from .textcheck import check_text

    text = "𠮷野家で牛丼"
    return check_text(tokenizer, text, tokenizer(text, max_length=5, truncation=True)).reasons()


@_exercise("04-14-1", "float16 での大きさ (MB)", "パラメータ数 × 2 バイト ÷ 10**6", "bert")
def _float16_mb(*, bert: Any) -> float:
    return round(sum(p.numel() for p in bert.parameters()) * 2 / 1e6, 1)


@_exercise("04-14-2", "単語埋め込みのパラメータ数", "bert.embeddings.word_embeddings.weight.numel()", "bert")
def _word_embedding_size(*, bert: Any) -> int:
    return bert.config.vocab_size * bert.config.hidden_size


@_exercise("04-15-1", "BERT-LARGE のパラメータ数", "H, I, N を入れ替えて同じ式を使います")
def _bert_large() -> int:
    from transformers import BertConfig

    from .saved import formula_by_part

    large = BertConfig(
        vocab_size=32000, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096
    )
    return sum(formula_by_part(large).values())


@_exercise("04-15-2", "1 ヘッドの次元 d_k", "hidden_size ÷ num_attention_heads", "bert")
def _d_k(*, bert: Any) -> int:
    return bert.config.hidden_size // bert.config.num_attention_heads


@_exercise("04-16-1", "行 1 の [PAD] の数", "attention_mask が 0 の位置を数えます (系列長 32 − 有効長)", "tokenizer")
def _pads_row1(*, tokenizer: Any) -> int:
    enc = tokenizer(BATCH, max_length=32, padding="max_length", truncation=True)
    return enc["attention_mask"][1].count(0)


@_exercise("04-16-2", "[CLS] ベクトルの形", "last_hidden_state[:, 0] は全部の文の位置 0 です", "bert")
def _cls_shape(*, bert: Any) -> tuple[int, int]:
    return (len(BATCH), bert.config.hidden_size)


@_exercise(
    "04-17-1",
    "文対で token_type_ids を省いても同じか",
    "省くと全部 0 (文 A) になります。文 B の位置の埋め込みはどうなるでしょうか",
    "tokenizer",
    "bert",
)
def _types_matter(*, tokenizer: Any, bert: Any) -> bool:
    import torch

    pair = tokenizer(WEATHER, PC, return_tensors="pt", return_token_type_ids=True)
    pair = {k: v.to(next(bert.parameters()).device) for k, v in pair.items()}
    with torch.no_grad():
        with_types = bert(**pair).last_hidden_state
        without_types = bert(input_ids=pair["input_ids"], attention_mask=pair["attention_mask"]).last_hidden_state
    return torch.equal(with_types, without_types)


@_exercise(
    "04-18-1", "attentions[0] の形", "(B, ヘッド数, L, L) です。ヘッド数は bert.config.num_attention_heads", "bert"
)
def _attention_shape(*, bert: Any) -> tuple[int, int, int, int]:
    return (len(BATCH), bert.config.num_attention_heads, 32, 32)


@_exercise("04-18-2", "アテンションの重みの総数", "層の数 × B × ヘッド数 × L × L", "bert")
def _attention_count(*, bert: Any) -> int:
    c = bert.config
    return c.num_hidden_layers * len(BATCH) * c.num_attention_heads * 32 * 32


def _hidden_states(bert: Any, encoding: Any) -> Any:
    """The model's own ``output_hidden_states`` (13 entries) for ``encoding``, on the model's device."""
    import torch

    device = next(bert.parameters()).device
    with torch.no_grad():
        return bert(**{k: v.to(device) for k, v in encoding.items()}, output_hidden_states=True).hidden_states


@_exercise(
    "04-18a-1",
    "文対の埋め込み",
    "token_type_ids を指定して符号化し、E_seg[tt] の tt に使います (文 B の位置は 1)。形は [1, L, H] です",
    "tokenizer",
    "bert",
    same=tensors_close,
)
def _pair_embeddings(*, tokenizer: Any, bert: Any) -> Any:
    pair = tokenizer(WEATHER, PC, return_tensors="pt", return_token_type_ids=True)
    return _hidden_states(bert, pair)[0]


@_exercise(
    "04-18a-2",
    "第 2 層の出力",
    "入力は hidden_states[1]、重みは bert.encoder.layer[1] です。マスク・残差・LayerNorm の順を第 1 層と同じにします",
    "tokenizer",
    "bert",
    same=tensors_close,
)
def _layer_2_output(*, tokenizer: Any, bert: Any) -> Any:
    batch = tokenizer(BATCH, padding=True, return_tensors="pt", return_token_type_ids=True)
    return _hidden_states(bert, batch)[2]


@_exercise("04-19-1", "no_grad 中の重みの requires_grad", "no_grad が止めるのは記録で、重みの設定は変えません", "bert")
def _weight_requires_grad(*, bert: Any) -> bool:
    import torch

    with torch.no_grad():
        return bert.embeddings.word_embeddings.weight.requires_grad


@_exercise(
    "04-19-2",
    "inference_mode での保存テンソル数",
    "inference_mode の中では、勾配を有効にし直しても記録は止まったままです",
    "tokenizer",
    "bert",
)
def _saved_in_inference_mode(*, tokenizer: Any, bert: Any) -> int:
    import torch

    saved: list[object] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t)
        return t

    enc = tokenizer(BATCH[:1], return_tensors="pt")
    enc = {k: v.to(next(bert.parameters()).device) for k, v in enc.items()}
    with (
        torch.inference_mode(),
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        torch.set_grad_enabled(True),
    ):
        bert(**enc)
    return len(saved)


@_exercise("04-20-1", "pooler_output の nbytes", "B × H × 4 バイト", "bert")
def _pooler_nbytes(*, bert: Any) -> int:
    return len(BATCH) * bert.config.hidden_size * 4


@_exercise("04-20-2", ".copy() の後もメモリを共有するか", ".copy() は新しいメモリに値を写します")
def _copy_shares_memory() -> bool:
    import numpy as np
    import torch

    tensor = torch.zeros(2, 3)
    return bool(np.shares_memory(tensor.numpy().copy(), tensor.numpy()))
