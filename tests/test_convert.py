"""Tests of jbert_helpers.convert (lesson 04-20): tensor → CPU → NumPy → list, and their sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from jbert_helpers.convert import (
    Step,
    conversion_steps,
    element_type,
    json_size,
    nested_shape,
    to_numpy,
)
from jbert_helpers.errors import ConversionError, JbertError


def test_stages_of_a_bert_sized_output() -> None:
    t = torch.zeros(2, 32, 768)
    steps = conversion_steps(t)
    assert [s.stage for s in steps] == ["torch", "cpu", "numpy", "list"]
    assert [s.type_name for s in steps] == ["Tensor", "Tensor", "ndarray", "list"]
    assert all(s.shape == (2, 32, 768) for s in steps)
    assert [s.dtype for s in steps] == ["torch.float32", "torch.float32", "float32", "float (Python)"]
    # B × L × H elements, 4 bytes each for float32
    assert steps[0].nbytes == steps[1].nbytes == steps[2].nbytes == 2 * 32 * 768 * 4 == 196_608


def test_list_bytes_are_the_compact_json_text() -> None:
    steps = conversion_steps(torch.tensor([[1.5, -2.0], [0.25, 3.0]]))
    text = "[[1.5,-2.0],[0.25,3.0]]"  # written out by hand
    assert steps[3].nbytes == len(text) == 23
    assert json_size([[1.5, -2.0], [0.25, 3.0]]) == 23


def test_json_size_counts_utf8_bytes() -> None:
    assert json_size(["あ"]) == len('["\\u3042"]')  # json.dumps escapes non-ASCII by default
    assert json_size([]) == 2


def test_list_element_type_follows_the_dtype() -> None:
    assert conversion_steps(torch.tensor([1, 2, 3]))[3].dtype == "int (Python)"
    assert conversion_steps(torch.tensor([True, False]))[3].dtype == "bool (Python)"
    assert conversion_steps(torch.tensor([0.5], dtype=torch.float64))[2].dtype == "float64"
    assert element_type([]) == "(空)"
    assert element_type([[2.0]]) == "float (Python)"


def test_nested_shape() -> None:
    assert nested_shape([[1, 2, 3], [4, 5, 6]]) == (2, 3)
    assert nested_shape([]) == (0,)
    assert nested_shape(5) == ()


def test_only_the_list_stage_depends_on_values() -> None:
    steps = conversion_steps(torch.ones(2, 3))
    assert [s.bytes_depend_on_values for s in steps] == [False, False, False, True]


def test_describe_can_leave_the_size_out() -> None:
    step = Step("list", "list", "float (Python)", (2, 3), "cpu", 1234)
    assert "bytes=1,234" in step.describe()
    assert str(step) == step.describe()
    hidden = step.describe(show_bytes=False)
    assert "1,234" not in hidden and "bytes=(値しだい)" in hidden
    assert "shape=(2, 3)" in hidden and "dtype=float (Python)" in hidden


def test_a_tensor_that_requires_grad_is_converted_without_error() -> None:
    w = torch.ones(3, requires_grad=True)
    y = w * 2
    with pytest.raises(RuntimeError, match="requires grad"):
        y.numpy()  # what the learner meets without detach
    assert to_numpy(y).tolist() == [2.0, 2.0, 2.0]
    assert conversion_steps(y)[2].shape == (3,)


def test_to_numpy_shares_memory_with_a_cpu_tensor() -> None:
    t = torch.zeros(4)
    arr = to_numpy(t)
    arr[1] = 7.0
    assert t[1].item() == 7.0
    assert np.shares_memory(arr, t.numpy())


def test_list_is_json_serialisable_and_the_array_is_not() -> None:
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    with pytest.raises(TypeError):
        json.dumps(to_numpy(t))
    assert json.loads(json.dumps(to_numpy(t).tolist())) == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


@pytest.mark.parametrize("bad", [[1.0, 2.0], np.zeros(3), None, "tensor"])
def test_a_non_tensor_is_refused_with_the_fix(bad: object) -> None:
    for fn in (to_numpy, conversion_steps):
        with pytest.raises(ConversionError, match="torch.Tensor を渡してください"):
            fn(bad)


def test_bfloat16_says_to_call_float_first() -> None:
    t = torch.zeros(2, dtype=torch.bfloat16)
    with pytest.raises(ConversionError, match=r"\.float\(\)") as info:
        to_numpy(t)
    assert isinstance(info.value, JbertError)
    assert to_numpy(t.float()).dtype == np.float32
    with pytest.raises(ConversionError):
        conversion_steps(t)
