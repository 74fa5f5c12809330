import os

import pytest
import torch


@pytest.fixture(autouse=True)
def _cpu_and_quiet(monkeypatch):
    """Unit tests run on the CPU, seeded, without progress bars, at the default scale
    (whatever RNN2T_SCALE the shell that runs them has)."""
    monkeypatch.setenv("RNN2T_DEVICE", "cpu")
    monkeypatch.setenv("RNN2T_BOOK_BUILD", "1")
    monkeypatch.delenv("RNN2T_SCALE", raising=False)
    torch.manual_seed(0)
    yield


@pytest.fixture
def repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
