import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rnn2transformer import device, get_device, set_seed
from rnn2transformer.device import fit_threads


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


def test_fit_threads_follows_rnn2t_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("RNN2T_THREADS", "1")
        assert fit_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("RNN2T_THREADS", "many")
        with pytest.raises(ValueError, match="RNN2T_THREADS must be 'auto' or a whole number"):
            fit_threads()
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2 or not Path("/proc/stat").exists(),
                    reason="needs Linux and two cores")
def test_fit_threads_gives_up_a_thread_to_a_program_that_keeps_a_core_busy(monkeypatch):
    monkeypatch.delenv("RNN2T_THREADS", raising=False)
    fit_threads(every=0.0)
    before = device._ceiling  # torch's own choice, one thread per core
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # the program is up and spinning
        for _ in range(device.READINGS + 1):  # a sustained load: every reading sees it
            fit_threads(every=0.0)
            time.sleep(0.4)
        assert fit_threads(every=0.0) == max(1, before - 1)
    finally:
        hog.kill()
        hog.wait()
    for _ in range(device.READINGS + 1):
        time.sleep(0.4)
        fit_threads(every=0.0)
    assert fit_threads(every=0.0) == before  # the core is free again: the thread comes back


def test_a_moment_of_load_does_not_take_a_thread(monkeypatch):
    monkeypatch.delenv("RNN2T_THREADS", raising=False)
    fit_threads(every=0.0)
    before = device._ceiling
    for _ in range(device.READINGS):  # quiet readings
        time.sleep(0.2)
        fit_threads(every=0.0)
    device._recent_load[-1] = 1.0  # one reading saw a program hold a whole core
    time.sleep(0.2)
    assert fit_threads(every=0.0) == before
