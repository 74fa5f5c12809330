"""Timing and memory of a training step (rnn2transformer.profiling)."""

import math

import pytest
import torch

from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel
from rnn2transformer.profiling import (
    paired_rounds,
    saved_tensor_bytes,
    time_forward_backward,
    training_step,
)
from rnn2transformer.synthetic import adding_problem


def test_timing_helper_reports_time_and_saved_memory_growing_with_length():
    model = RecurrentModel(RecurrentConfig(kind="lstm", hidden_size=16))
    short = time_forward_backward(model, *adding_problem(8, 10), repeats=2, warmup=1)
    long = time_forward_backward(model, *adding_problem(8, 40), repeats=2, warmup=1)
    assert short["min_s"] <= short["median_s"] <= short["max_s"]
    assert long["saved_bytes"] > 2 * short["saved_bytes"] > 0
    assert math.isnan(short["peak_bytes"]) or short["peak_bytes"] > 0
    a = torch.randn(100, requires_grad=True)
    assert saved_tensor_bytes(lambda: (a * a).sum()) == 400  # one saved float32 vector


def test_paired_rounds_time_every_call_once_a_round_and_pair_them_up():
    order = []
    calls = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    times = paired_rounds(calls, device=torch.device("cpu"), rounds=4, warmup=0)
    assert set(times) == {"a", "b"}
    rounds = len(times["a"])
    assert rounds == len(times["b"]) == 4  # one at the smoke scale (test_settings.py)
    assert order == ["a", "b"] * rounds  # in turn, so a round's calls share the machine's load
    assert all(t >= 0 for t in times["a"] + times["b"])
    with pytest.raises(TypeError, match="at least two names"):
        paired_rounds({"a": calls["a"]}, device=torch.device("cpu"))
    with pytest.raises(ValueError, match="rounds"):
        paired_rounds(calls, device=torch.device("cpu"), rounds=2)


def test_a_training_step_changes_the_weights_as_train_would():
    torch.manual_seed(0)
    model = RecurrentModel(RecurrentConfig(kind="lstm", hidden_size=8))
    before = [p.detach().clone() for p in model.parameters()]
    step = training_step(model, *adding_problem(4, 6), device=torch.device("cpu"))
    step()
    assert step.bf16 is False  # no autocast on the CPU
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        training_step("lstm", *adding_problem(4, 6), device=torch.device("cpu"))


def test_forward_backward_is_a_call_that_fills_the_gradients():
    from rnn2transformer.profiling import forward_backward

    layer = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    call = forward_backward(layer, x)
    assert layer.weight.grad is None
    call()
    expected = torch.autograd.grad(layer(x).square().mean(), layer.weight)[0]
    torch.testing.assert_close(layer.weight.grad, expected)
    with pytest.raises(TypeError, match="fn must be callable"):
        forward_backward(3, x)
