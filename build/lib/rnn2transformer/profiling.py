"""Measuring speed and memory of a model's training step on the current device.

:func:`time_forward_backward` times forward + backward with warm-up and repeats (the median is
reported, with the spread) and synchronises the GPU around each measurement so the time is the
computation's, not the launch's. Memory is measured two ways:

* ``saved_bytes``: the bytes of tensors autograd keeps for the backward pass, counted with
  ``torch.autograd.graph.saved_tensors_hooks``. It is device-independent and is what grows with
  sequence length (linearly for an LSTM, quadratically for attention scores).
* ``peak_bytes``: the allocator's peak on CUDA (``torch.cuda.max_memory_allocated``); NaN on
  other devices, where PyTorch exposes no such counter.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from ._checks import check_int


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def saved_tensor_bytes(fn: Callable[[], torch.Tensor]) -> int:
    """Bytes of the distinct tensors autograd saves while ``fn()`` builds its graph."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.device.type != "meta":
            storage = t.untyped_storage()
            seen[(storage.data_ptr(), t.device.index or 0)] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values())


def time_call(
    fn: Callable[[], object], *, device: torch.device, repeats: int = 5, warmup: int = 1
) -> dict[str, float]:
    """Seconds per call of ``fn()`` (median, min, max over ``repeats``, after ``warmup``)."""
    check_int("repeats", repeats, minimum=1)
    check_int("warmup", warmup, minimum=0)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        fn()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


def time_backward(
    loss_fn: Callable[[], torch.Tensor],
    *,
    device: torch.device,
    repeats: int = 5,
    warmup: int = 2,
    zero_grad: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Median seconds of ``loss_fn().backward()`` (forward and backward), and its memory.

    Returns ``median_s``, ``min_s``, ``max_s``, ``saved_bytes`` and ``peak_bytes`` (CUDA only).
    """

    def step() -> None:
        if zero_grad is not None:
            zero_grad()
        loss_fn().backward()

    timing = time_call(step, device=device, repeats=repeats, warmup=warmup)
    peak = float("nan")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        step()
        peak = float(torch.cuda.max_memory_allocated(device))
    saved = saved_tensor_bytes(loss_fn)
    if zero_grad is not None:
        zero_grad()
    return {**timing, "saved_bytes": float(saved), "peak_bytes": peak}


def time_forward_backward(
    model: nn.Module,
    x: torch.Tensor,
    targets: torch.Tensor,
    *,
    repeats: int = 5,
    warmup: int = 2,
    device: torch.device | None = None,
) -> dict[str, float]:
    """:func:`time_backward` for ``model(x, targets) -> (out, loss)`` on the model's device."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    device = device or next(model.parameters()).device
    x, targets = x.to(device), targets.to(device)
    model.train()
    return time_backward(lambda: model(x, targets)[1], device=device, repeats=repeats,
                         warmup=warmup, zero_grad=lambda: model.zero_grad(set_to_none=True))
