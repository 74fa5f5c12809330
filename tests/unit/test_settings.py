"""Every RNN2T_* setting is read in one place (rnn2transformer.settings), when it is used."""

import pytest
import torch

from rnn2transformer import settings, train
from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel
from rnn2transformer.settings import scale


def test_scale_reads_the_environment(monkeypatch):
    monkeypatch.delenv("RNN2T_SCALE", raising=False)
    assert scale(1, full=10) == 1
    monkeypatch.setenv("RNN2T_SCALE", "full")
    assert scale(1, full=10) == 10
    monkeypatch.setenv("RNN2T_SCALE", "smoke")  # experiments keep their default size...
    assert scale(1, full=10) == 1
    monkeypatch.setenv("RNN2T_SCALE", "huge")
    with pytest.raises(ValueError, match=r"\['smoke', 'default', 'full'\], got 'huge'"):
        scale(1, full=10)


def test_smoke_scale_cuts_every_run_and_every_timing_loop(monkeypatch):
    from rnn2transformer.profiling import time_call
    from rnn2transformer.synthetic import adding_batches

    monkeypatch.setenv("RNN2T_SCALE", "smoke")
    model = RecurrentModel(RecurrentConfig(kind="lstm", hidden_size=4))
    history = train(model, adding_batches(5, batch_size=4), steps=500, eval_every=100,
                    progress=False)
    assert history.step.tolist() == [1, 2, 3, 4, 5, 6]  # ...but every run stops after 6 steps
    calls = []
    time_call(lambda: calls.append(1), device=torch.device("cpu"), repeats=9, warmup=4)
    assert len(calls) == 1


def test_smoke_shrinks_what_a_launch_test_need_not_pay_for(monkeypatch):
    monkeypatch.delenv("RNN2T_SCALE", raising=False)  # the default scale keeps every size
    assert scale.held_out(1000) == 1000 and scale.held_out_text(40_000) == 40_000
    assert scale.training(20_000, full=100_000) == 20_000
    assert scale.sweep([1, 2, 3, 4]) == [1, 2, 3, 4] and scale.seeds([0, 1, 2]) == [0, 1, 2]
    text = "x" * 50_000
    assert scale.corpus(text) is text
    monkeypatch.setenv("RNN2T_SCALE", "full")
    assert scale.held_out(1000, full=5000) == 5000 and scale.sweep([1, 2], full=[3]) == [3]
    monkeypatch.setenv("RNN2T_SCALE", "smoke")
    assert scale.held_out(1000) == settings.SMOKE_HELD_OUT
    assert scale.held_out(10) == 10  # never larger than asked
    assert scale.held_out_text(40_000) == settings.SMOKE_HELD_OUT_TEXT
    assert scale.training(20_000) == settings.SMOKE_TRAINING
    assert scale.sweep([1, 2, 3, 4]) == [1, 2]  # the cheapest two: still a comparison
    assert scale.sweep([1, 2]) == [1, 2] and scale.seeds(range(5)) == [0]
    assert len(scale.corpus(text)) == settings.SMOKE_CORPUS
    assert scale(7, full=9) == 7  # the experiment itself keeps its size; its loops are cut


def test_scale_refuses_sizes_that_are_not_sizes(monkeypatch):
    monkeypatch.setenv("RNN2T_SCALE", "smoke")
    with pytest.raises(ValueError, match="whole number >= 1, got 0"):
        scale.held_out(0)
    with pytest.raises(ValueError, match="whole number >= 1, got 2.5"):
        scale.training(2.5)
    with pytest.raises(ValueError, match="non-empty list, got \\[\\]"):
        scale.sweep([])
    with pytest.raises(ValueError, match="non-empty list of seeds, got 3"):
        scale.seeds(3)
    with pytest.raises(TypeError, match="string, a list or a tensor, got int"):
        scale.corpus(20_000)


def test_one_seed_at_the_smoke_scale_is_never_a_verdict(monkeypatch):
    from rnn2transformer.evidence import compare_seeds

    monkeypatch.setenv("RNN2T_SCALE", "smoke")
    result = compare_seeds([1.0], [5.0], names=("a", "b"))
    assert result.seeds == 1 and result.winner is None and result.margin == float("inf")
    monkeypatch.delenv("RNN2T_SCALE")
    with pytest.raises(ValueError, match="at least 3 seeds per model, got 1"):
        compare_seeds([1.0], [5.0])


def test_smoke_times_one_round(monkeypatch):
    from rnn2transformer.profiling import paired_rounds

    monkeypatch.setenv("RNN2T_SCALE", "smoke")
    order = []
    times = paired_rounds({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                          device=torch.device("cpu"), rounds=20)
    assert order == ["a", "b"] and len(times["a"]) == 1
