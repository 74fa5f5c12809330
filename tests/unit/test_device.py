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
from rnn2transformer.device import as_device, fit_threads


def available(monkeypatch, *, cuda: bool, mps: bool) -> None:
    """Pretend these accelerators exist (only get_device's own checks are asked)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


def test_environment_variable_chooses_the_device(monkeypatch):
    available(monkeypatch, cuda=True, mps=True)  # the variable, not the default, decides
    monkeypatch.setenv("RNN2T_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.setenv("RNN2T_DEVICE", "mps")
    assert get_device() == torch.device("mps")


def test_argument_wins_over_environment(monkeypatch):
    monkeypatch.setenv("RNN2T_DEVICE", "not-a-device")
    assert get_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize(("cuda", "mps", "expected"), [
    (True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_default_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.delenv("RNN2T_DEVICE", raising=False)
    available(monkeypatch, cuda=cuda, mps=mps)
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

    def settled():  # enough readings, each over 0.4 s, that the average is today's load
        for _ in range(device.READINGS + 1):
            time.sleep(0.4)
            threads = fit_threads(every=0.0)
        return threads

    fit_threads(every=0.0)
    # what the machine leaves free before the test's own program starts (on a laptop another
    # program may already hold a core: the test then checks one thread less than that)
    baseline = settled()
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # the program is up and spinning
        assert settled() == max(1, baseline - 1)
    finally:
        hog.kill()
        hog.wait()
    assert settled() >= baseline  # the core is free again: the thread comes back


def test_a_moment_of_load_does_not_take_a_thread(monkeypatch):
    """The average over READINGS readings, with the readings made up (so another program on
    the machine cannot change the answer): one loaded reading among quiet ones keeps every
    thread; a load in every reading takes one."""
    monkeypatch.delenv("RNN2T_THREADS", raising=False)
    clock = {"t": 0.0, "busy": 0.0}

    def reading(cpus):  # (time, busy seconds of every program, this process's own seconds)
        return clock["t"], clock["busy"], 0.0

    def tick(others):  # one second passes, in which other programs keep `others` cores busy
        clock["t"] += 1.0
        clock["busy"] += others
        return fit_threads(every=0.0)

    monkeypatch.setattr(device, "_reading", reading)
    monkeypatch.setattr(device, "_last_reading", None)
    monkeypatch.setattr(device, "_recent_load", [])
    monkeypatch.setattr(device.time, "sleep",
                        lambda seconds: clock.__setitem__("t", clock["t"] + seconds))
    monkeypatch.setattr(device, "_ceiling", 2)
    for _ in range(device.READINGS):
        assert tick(0.0) == 2  # quiet
    assert tick(1.0) == 2  # one reading saw a program hold a whole core: a moment
    for _ in range(device.READINGS):
        tick(1.0)
    assert tick(1.0) == 1  # held in every reading: the thread goes to that program
    torch.set_num_threads(2)


def test_as_device_takes_a_device_a_name_or_none_and_refuses_the_rest(monkeypatch):
    monkeypatch.delenv("RNN2T_DEVICE", raising=False)
    available(monkeypatch, cuda=False, mps=False)
    given = torch.device("cuda", 1)  # passed through as it is, not checked against the machine
    assert as_device(given) is given
    assert as_device("cpu") == torch.device("cpu")
    assert as_device(None) == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA device"):
        as_device("cuda")  # a name is read as get_device reads it
    with pytest.raises(TypeError, match="device must be a torch.device or a name"):
        as_device(0)
