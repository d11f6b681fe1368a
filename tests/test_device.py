"""Tests of jbert_helpers.device: the device choice (MPS → CUDA → CPU, JBERT_DEVICE).

The machine's hardware is simulated by monkeypatching torch's availability checks, so every
branch is tested on a CPU-only machine.
"""

from __future__ import annotations

import pytest
import torch

from jbert_helpers import best_device, choose_device
from jbert_helpers.errors import DeviceError, JbertError


@pytest.fixture
def hardware(monkeypatch: pytest.MonkeyPatch):
    """Pretend the machine has the given CUDA GPUs / MPS; JBERT_DEVICE unset."""

    def set_hw(cuda: int = 0, mps: bool = False) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        monkeypatch.setattr(torch.backends.mps, "is_built", lambda: mps)

    monkeypatch.delenv("JBERT_DEVICE", raising=False)
    return set_hw


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(0, False, "cpu"), (1, False, "cuda"), (0, True, "mps"), (2, True, "mps")],  # MPS first, then CUDA
)
def test_auto_order_is_mps_then_cuda_then_cpu(hardware, cuda, mps, expected):
    hardware(cuda=cuda, mps=mps)
    choice = choose_device()
    assert choice.device == torch.device(expected)
    assert choice.reason  # a reason is always given
    assert best_device() == torch.device(expected)
    assert best_device("auto") == torch.device(expected)


def test_env_variable_overrides_auto(hardware, monkeypatch):
    hardware(cuda=1, mps=True)
    monkeypatch.setenv("JBERT_DEVICE", "cpu")
    choice = choose_device()
    assert choice.device == torch.device("cpu")
    assert "JBERT_DEVICE" in choice.reason


def test_argument_wins_over_env_variable(hardware, monkeypatch):
    hardware(cuda=1)
    monkeypatch.setenv("JBERT_DEVICE", "cpu")
    assert best_device("cuda") == torch.device("cuda")
    assert best_device(" CUDA:0 ") == torch.device("cuda:0")


def test_env_auto_and_empty_mean_automatic(hardware, monkeypatch):
    hardware(cuda=1)
    for value in ("auto", "AUTO", ""):
        monkeypatch.setenv("JBERT_DEVICE", value)
        assert best_device() == torch.device("cuda")


@pytest.mark.parametrize("requested", ["cuda", "cuda:0", "mps", "cuda:99"])
def test_absent_device_raises_with_fix_on_cpu_machine(hardware, requested):
    hardware(cuda=0, mps=False)
    with pytest.raises(DeviceError) as info:
        best_device(requested)
    message = str(info.value)
    assert repr(requested) in message
    assert "auto" in message  # the fix
    assert isinstance(info.value, JbertError)


def test_cuda_99_raises_on_every_kind_of_machine_with_the_same_message(hardware):
    # lesson 04-14 shows this error: it must raise (and read the same) on a CPU-only machine,
    # a Mac and a machine with GPUs, so that the stored output is comparable everywhere
    messages = set()
    for cuda, mps in [(0, False), (0, True), (1, False), (8, True)]:
        hardware(cuda=cuda, mps=mps)
        with pytest.raises(DeviceError) as info:
            best_device("cuda:99")
        messages.add(str(info.value))
    assert len(messages) == 1


def test_index_beyond_the_gpus_raises(hardware):
    hardware(cuda=2)
    assert best_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(DeviceError):
        best_device("cuda:2")


def test_env_variable_error_names_the_variable(hardware, monkeypatch):
    hardware(cuda=0)
    monkeypatch.setenv("JBERT_DEVICE", "cuda")
    with pytest.raises(DeviceError, match="JBERT_DEVICE"):
        best_device()


@pytest.mark.parametrize("requested", ["gpu", "tpu", "cuda:x", "not a device"])
def test_not_a_device_name(hardware, requested):
    hardware()
    with pytest.raises(DeviceError, match="デバイス名ではありません"):
        choose_device(requested)


@pytest.mark.parametrize("requested", ["meta", "xla"])
def test_device_types_the_lessons_do_not_use_are_refused(hardware, requested):
    hardware(cuda=1, mps=True)
    with pytest.raises(DeviceError):
        choose_device(requested)
