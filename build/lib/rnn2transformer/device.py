"""Choosing the device and seeding every random number generator.

Models in this package never name a device. Chapters call :func:`get_device` once; it picks
CUDA, then Apple's MPS, then the CPU, unless the environment variable ``RNN2T_DEVICE`` says
otherwise (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from ._checks import check_int

ENV_DEVICE = "RNN2T_DEVICE"


def get_device(name: str | None = None) -> torch.device:
    """Return the device to compute on.

    ``name`` (or, when it is None, the ``RNN2T_DEVICE`` environment variable) forces a
    device; otherwise the first available of cuda, mps, cpu is chosen.
    """
    source = "argument name"
    if name is None:
        name = os.environ.get(ENV_DEVICE) or None
        source = f"environment variable {ENV_DEVICE}"
    if name is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not isinstance(name, str):
        raise TypeError(f"{source} must be a str such as 'cpu' or 'cuda', got {name!r}")
    kind = name.split(":")[0]
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{source} must be cpu, cuda[:N] or mps, got {name!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{source} asks for {name!r}, but torch sees no CUDA device")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{source} asks for 'mps', but torch sees no MPS device")
    return torch.device(name)


def set_seed(seed: int) -> int:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU); return the seed.

    On the CPU every run of the book with the same seed gives the same numbers.
    """
    check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed
