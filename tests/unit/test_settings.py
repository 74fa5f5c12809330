"""Every RNN2T_* setting is read in one place (rnn2transformer.settings), when it is used."""

import pytest
import torch

from rnn2transformer import train
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
