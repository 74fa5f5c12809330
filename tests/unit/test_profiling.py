"""Timing and memory of a training step (rnn2transformer.profiling)."""

import math

import torch

from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel
from rnn2transformer.profiling import saved_tensor_bytes, time_forward_backward
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
