"""Measuring speed and memory of a model's training step on the current device.

:func:`time_forward_backward` times forward + backward with warm-up and repeats (the median is
reported, with the spread) and synchronises the GPU around each measurement so the time is the
computation's, not the launch's. Memory is measured two ways:

* ``saved_bytes``: the bytes of tensors autograd keeps for the backward pass, counted with
  ``torch.autograd.graph.saved_tensors_hooks``. It is what grows with sequence length: linearly
  for an LSTM, and quadratically for attention only where the scores are kept (``attention``,
  ``need_weights=True``); the fused kernel keeps O(T), and which kernel runs depends on the
  device.
* ``peak_bytes``: the allocator's peak on CUDA (``torch.cuda.max_memory_allocated``); NaN on
  other devices, where PyTorch exposes no such counter.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from ._checks import check_int
from .device import as_device, fit_threads
from .models.pairs import char_lm_pair
from .models.shared import count_parameters
from .settings import progress_enabled, repeats_at_scale
from .training import make_optimizer, precision_policy

if TYPE_CHECKING:
    import pandas as pd


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
    fn: Callable[[], object], *, device: torch.device | str, repeats: int = 5, warmup: int = 1
) -> dict[str, float]:
    """Seconds per call of ``fn()`` (median, min, max over ``repeats``, after ``warmup``)."""
    device = as_device(device)
    check_int("repeats", repeats, minimum=1)
    check_int("warmup", warmup, minimum=0)
    repeats, warmup = repeats_at_scale(repeats, warmup)  # smoke: run the code once
    fit_threads()  # time with the threads the machine can run now
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


def paired_rounds(
    calls: dict[str, Callable[[], object]], *, device: torch.device | str, rounds: int = 20,
    warmup: int = 1,
) -> dict[str, list[float]]:
    """Seconds of each call in ``calls``, timed once per round in turn for ``rounds`` rounds.

    The calls of one round share whatever else the machine was doing then, so the lists pair up
    by round like seeds, and :func:`rnn2transformer.evidence.compare_rounds` can set the mean
    difference against its spread. At the smoke scale one round and no warm-up (a comparison
    of one round is within noise).
    """
    if not (isinstance(calls, dict) and len(calls) >= 2
            and all(callable(f) for f in calls.values())):
        raise TypeError(f"calls must map at least two names to callables, got {calls!r}")
    device = as_device(device)
    check_int("rounds", rounds, minimum=3)
    check_int("warmup", warmup, minimum=0)
    rounds, warmup = repeats_at_scale(rounds, warmup)
    fit_threads()
    for _ in range(warmup):
        for fn in calls.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            _synchronize(device)
            start = time.perf_counter()
            fn()
            _synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def forward_backward(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor
                     ) -> Callable[[], None]:
    """A call to time: ``fn(*inputs)``, then the backward pass of the mean square of its output
    (a loss that touches every output), as :func:`paired_rounds` wants it. The chapters time
    layers and forms of a layer this way."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")

    def call() -> None:
        fn(*inputs).square().mean().backward()

    return call


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
    peak = peak_bytes(step, device=device)
    saved = saved_tensor_bytes(loss_fn)
    if zero_grad is not None:
        zero_grad()
    return {**timing, "saved_bytes": float(saved), "peak_bytes": peak}


def peak_bytes(fn: Callable[[], object], *, device: torch.device | str) -> float:
    """The CUDA allocator's peak while ``fn()`` runs, in bytes; NaN on other devices, where
    PyTorch exposes no such counter (and ``fn`` is not called)."""
    device = as_device(device)
    if device.type != "cuda":
        return float("nan")
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    return float(torch.cuda.max_memory_allocated(device))


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


# --- the parallelism argument, measured: training throughput at equal parameter count ---------

def growth_exponent(x, y) -> float:
    """The slope of log y against log x: 1 means y grows in proportion to x, 2 as x^2."""
    import numpy as np

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 2 or len(x) != len(y) or (x <= 0).any() or (y <= 0).any():
        raise ValueError(f"need two or more positive (x, y) pairs, got {len(x)} x and {len(y)} y")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def time_training_step(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    device: torch.device,
    repeats: int = 3,
    warmup: int = 1,
    mixed_precision: bool | str = "auto",
) -> dict[str, float]:
    """:func:`time_call` of one real training step (forward, backward, Adam) of
    ``model(x, y) -> (out, loss)``, set up as :func:`rnn2transformer.train` sets it up on
    ``device`` (optimizer, precision policy). Adds ``bf16``: whether autocast was on."""
    step = training_step(model, x, y, device=device, mixed_precision=mixed_precision)
    return {**time_call(step, device=device, repeats=repeats, warmup=warmup),
            "bf16": step.bf16}


def training_step(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, device: torch.device,
    mixed_precision: bool | str = "auto",
) -> Callable[[], None]:
    """One real training step (forward, backward, Adam at lr 1e-3) of ``model(x, y) -> (out,
    loss)`` on the batch ``(x, y)``, set up as :func:`rnn2transformer.train` sets it up on
    ``device`` (optimizer, precision policy), as a call to time. Each call changes the model's
    weights: time a copy of a model you still need. ``step.bf16`` says whether autocast is on."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    device = as_device(device)
    model.to(device).train()
    x, y = x.to(device), y.to(device)
    opt = make_optimizer("adam", list(model.parameters()), lr=1e-3, device=device)
    amp = precision_policy(model, device, mixed_precision)  # TF32 and autocast, as train sets them

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            _, loss = model(x, y)
        loss.backward()
        opt.step()

    step.bf16 = amp
    return step


def training_throughput(
    model: nn.Module,
    *,
    length: int,
    tokens_per_step: int,
    device: torch.device,
    vocab_size: int = 65,
    repeats: int = 3,
    warmup: int = 1,
    mixed_precision: bool | str = "auto",
) -> dict[str, float]:
    """Tokens per second of :func:`time_training_step` for a language model on random token
    batches of ``tokens_per_step // length`` sequences of ``length``."""
    check_int("length", length, minimum=1)
    check_int("tokens_per_step", tokens_per_step, minimum=length)
    batch = tokens_per_step // length
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, vocab_size, (batch, length + 1), generator=g)
    timing = time_training_step(model, x[:, :-1], x[:, 1:], device=device, repeats=repeats,
                                warmup=warmup, mixed_precision=mixed_precision)
    return {"tokens_per_s": batch * length / timing["median_s"], "ms_per_step":
            1000 * timing["median_s"], "batch": batch, "bf16": timing["bf16"]}


def parallelism_sweep(
    widths: list[int],
    lengths: list[int],
    *,
    device: torch.device,
    tokens_per_step: int = 4096,
    repeats: int = 3,
    mixed_precision: bool | str = "auto",
    progress: bool | None = None,
) -> pd.DataFrame:
    """Training throughput of the :func:`char_lm_pair` at every width and length: one row per
    family, width and length, with ``parameters``, ``tokens_per_s`` (from the median step),
    ``ms_per_step`` and ``ms_rounds``, the step's milliseconds in each of ``repeats`` rounds.
    The two families are timed in turn, round by round (:func:`paired_rounds`), so that
    :func:`rnn2transformer.book.prose.where_transformer_leads` can set their difference
    against its spread."""
    import pandas as pd
    from tqdm.auto import tqdm

    check_int("repeats", repeats, minimum=3)
    rows = []
    grid = [(w, n) for w in widths for n in lengths]
    g = torch.Generator().manual_seed(0)
    for width, length in tqdm(grid, disable=not progress_enabled(progress), desc="throughput",
                              leave=False):
        torch.manual_seed(0)
        batch = max(tokens_per_step, length) // length
        x = torch.randint(0, 65, (batch, length + 1), generator=g)
        models = char_lm_pair(width)
        steps = {family: training_step(model, x[:, :-1], x[:, 1:], device=device,
                                       mixed_precision=mixed_precision)
                 for family, model in models.items()}
        rounds = paired_rounds(steps, device=device, rounds=repeats)
        for family, seconds in rounds.items():
            median = statistics.median(seconds)
            rows.append({"family": family, "width": width, "length": length,
                         "parameters": count_parameters(models[family]), "batch": batch,
                         "tokens_per_s": batch * length / median, "ms_per_step": 1000 * median,
                         "ms_rounds": [1000 * t for t in seconds],
                         "bf16": steps[family].bf16})
    return pd.DataFrame(rows)


_MATMUL_NODES = ("MmBackward", "AddmmBackward", "BmmBackward", "MvBackward", "AddmvBackward")


def sequential_matmuls(output: torch.Tensor) -> int:
    """The longest chain of matrix products in ``output``'s autograd graph: products that must
    run one after another because each needs the one before. An unrolled recurrence adds one
    per step; attention's products over all positions count once, however long the sequence.
    Count it on the scratch paths (a fused kernel is one node whatever it does inside)."""
    if not isinstance(output, torch.Tensor) or output.grad_fn is None:
        raise ValueError("output must be a tensor computed with autograd (it has no grad_fn)")
    depth: dict[object, int] = {}
    stack = [(output.grad_fn, False)]
    while stack:  # iterative post-order walk: a long recurrence would overflow recursion
        node, children_done = stack.pop()
        if node in depth:
            continue
        parents = [f for f, _ in node.next_functions if f is not None]
        if not children_done:
            stack.append((node, True))
            stack.extend((f, False) for f in parents if f not in depth)
            continue
        own = type(node).__name__.startswith(_MATMUL_NODES)
        depth[node] = int(own) + max((depth[f] for f in parents), default=0)
    return depth[output.grad_fn]
