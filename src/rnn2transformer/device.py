"""Choosing the device, the number of CPU threads, and seeding every random number generator.

Models in this package never name a device. Chapters call :func:`get_device` once; it picks
CUDA, then Apple's MPS, then the CPU, unless the environment variable ``RNN2T_DEVICE`` says
otherwise (``cpu``, ``cuda``, ``cuda:1``, ``mps``).

:func:`fit_threads` keeps torch's CPU threads to the cores that other programs leave free
(``docs/design.md``, "A busy core"): a thread pool larger than the free cores waits, at every
parallel operation, for a thread the system has not scheduled.
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from . import settings
from ._checks import check_int


def get_device(name: str | None = None) -> torch.device:
    """Return the device to compute on.

    ``name`` (or, when it is None, the ``RNN2T_DEVICE`` environment variable) forces a
    device; otherwise the first available of cuda, mps, cpu is chosen.
    """
    source = "argument name"
    if name is None:
        name = settings.device_name()
        source = f"environment variable {settings.ENV_DEVICE}"
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


def as_device(device: torch.device | str | None) -> torch.device:
    """``device`` as the package's functions take it: a torch.device as it is, a name such as
    'cpu' or None as :func:`get_device` reads them."""
    if device is None or isinstance(device, str):
        return get_device(device)
    if not isinstance(device, torch.device):
        raise TypeError(f"device must be a torch.device or a name such as 'cpu', got "
                        f"{type(device).__name__}")
    return device


def set_seed(seed: int) -> int:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU); return the seed.

    On the CPU every run of the book with the same seed gives the same numbers.
    """
    check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


# fit_threads' memory: torch's own choice of threads (its ceiling), and the last reading of the
# cores' busy time and this process's CPU time
_ceiling: int | None = None
_last_reading: tuple[float, float, float] | None = None
_counts_used: set[int] = set()  # every count set since the last threads_used(reset=True)
_recent_load: list[float] = []  # other programs' load in cores, the last few readings
FIRST_SAMPLE_S = 0.1  # the first call measures this long; later ones use the time since
# The load is averaged over this many readings (about as many seconds in a training loop), so
# a program that is busy for a moment (a page loading) does not take a thread away: only a
# sustained load does. Each change of the count can change a chapter's last digits.
READINGS = 3


def _busy_core_seconds(cpus: set[int]) -> float | None:
    """Seconds the cores ``cpus`` have spent busy since boot, by every program (Linux's
    ``/proc/stat``); None where there is no such file (macOS, Windows)."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    ticks = 0
    for line in lines:
        name, *fields = line.split()
        if name[:3] == "cpu" and name[3:].isdigit() and int(name[3:]) in cpus:
            # user nice system idle iowait irq softirq steal: all but idle and iowait are busy
            values = [int(v) for v in fields[:8]]
            ticks += sum(values) - values[3] - values[4]
    return ticks / os.sysconf("SC_CLK_TCK")


def _reading(cpus: set[int]) -> tuple[float, float, float] | None:
    busy = _busy_core_seconds(cpus)
    return None if busy is None else (time.monotonic(), busy, time.process_time())


def fit_threads(*, every: float = 1.0) -> int:
    """Set torch's CPU threads to the number of cores other programs leave free; return it.

    Other programs' load is this machine's busy time on the cores this process may use, less
    this process's own CPU time, over the time since the last call (at least ``every``
    seconds; a call sooner changes nothing, so a training loop may call it at every step),
    averaged over the last :data:`READINGS` readings.
    The count never exceeds torch's own default (one per core) and never drops below one.
    ``RNN2T_THREADS=N`` fixes it instead. Where ``/proc/stat`` does not exist, torch's default
    is kept.
    """
    global _ceiling, _last_reading
    if _ceiling is None:
        _ceiling = torch.get_num_threads()
    wanted = settings.threads()
    if wanted is None:
        now = time.monotonic()
        if _last_reading is not None and now - _last_reading[0] < every:
            return torch.get_num_threads()
        cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
        if _last_reading is None:  # the first call: a short look at the machine
            _last_reading = _reading(cpus)
            time.sleep(FIRST_SAMPLE_S)
        previous, _last_reading = _last_reading, _reading(cpus)
        if previous is None or _last_reading is None:
            return torch.get_num_threads()
        seconds = _last_reading[0] - previous[0]
        others = ((_last_reading[1] - previous[1]) - (_last_reading[2] - previous[2])) / seconds
        _recent_load[:] = [*_recent_load[-(READINGS - 1):], max(0.0, others)]
        free = len(cpus) - sum(_recent_load) / len(_recent_load)
        # a core at least three-quarters taken counts as taken: sharing it makes every
        # parallel operation wait; one less taken than that still counts as free
        wanted = max(1, min(_ceiling, math.floor(free + 0.75)))
    if wanted != torch.get_num_threads():
        torch.set_num_threads(wanted)
    _counts_used.add(wanted)
    return wanted


def threads_used(*, reset: bool = False) -> tuple[int, int]:
    """The fewest and most CPU threads :func:`fit_threads` has set since the last reset (the
    current count if it has set none); ``reset`` starts a new record (a chapter's start)."""
    counts = _counts_used or {torch.get_num_threads()}
    low, high = min(counts), max(counts)
    if reset:
        _counts_used.clear()
    return low, high
