import random

import numpy as np
import pytest
import torch

from rnn2transformer import get_device, set_seed


def test_environment_variable_chooses_the_device(monkeypatch):
    monkeypatch.setenv("RNN2T_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_argument_wins_over_environment(monkeypatch):
    monkeypatch.setenv("RNN2T_DEVICE", "not-a-device")
    assert get_device("cpu") == torch.device("cpu")


def test_default_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("RNN2T_DEVICE", raising=False)
    expected = (
        "cuda" if torch.cuda.is_available()
        else "mps" if torch.backends.mps.is_available()
        else "cpu"
    )
    assert get_device().type == expected


@pytest.mark.parametrize("name", ["gpu", "tpu", "CPU "])
def test_unknown_device_names_what_is_allowed(monkeypatch, name):
    monkeypatch.setenv("RNN2T_DEVICE", name)
    with pytest.raises(ValueError, match=r"cpu, cuda\[:N\] or mps.*" + repr(name)[1:-1]):
        get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_cuda_is_reported():
    with pytest.raises(ValueError, match="no CUDA device"):
        get_device("cuda")


def test_set_seed_makes_every_generator_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)

    set_seed(123)
    first = draw()
    set_seed(123)
    second = draw()
    assert first[:2] == second[:2]
    assert torch.equal(first[2], second[2])


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None])
def test_bad_seed_is_rejected(seed):
    with pytest.raises((TypeError, ValueError), match="seed"):
        set_seed(seed)
