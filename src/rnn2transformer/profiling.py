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
from typing import TYPE_CHECKING

import torch
from torch import nn

from ._checks import check_int
from .book import current_scale

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
    fn: Callable[[], object], *, device: torch.device, repeats: int = 5, warmup: int = 1
) -> dict[str, float]:
    """Seconds per call of ``fn()`` (median, min, max over ``repeats``, after ``warmup``)."""
    check_int("repeats", repeats, minimum=1)
    check_int("warmup", warmup, minimum=0)
    if current_scale() == "smoke":  # the notebook tests: run the code once, time nothing
        repeats, warmup = 1, 0
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


# --- the parallelism argument, measured: training throughput at equal parameter count ---------

def growth_exponent(x, y) -> float:
    """The slope of log y against log x: 1 means y grows in proportion to x, 2 as x^2."""
    import numpy as np

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 2 or len(x) != len(y) or (x <= 0).any() or (y <= 0).any():
        raise ValueError(f"need two or more positive (x, y) pairs, got {len(x)} x and {len(y)} y")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def describe_growth(exponent: float, variable: str = "n") -> str:
    """Words for a measured growth exponent, so a sentence about time stays true on any device."""
    if exponent < 0.25:
        return f"barely grows with {variable}"
    if exponent < 0.75:
        return f"grows more slowly than {variable}"
    if exponent < 1.25:
        return f"grows about in proportion to {variable}"
    if exponent < 1.75:
        return f"grows faster than {variable} but more slowly than {variable}\u00b2"
    return f"grows about as {variable}\u00b2"


def char_lm_pair(width: int, *, vocab_size: int = 65) -> dict[str, nn.Module]:
    """A character Transformer (2 pre-norm blocks of ``width``, feed-forward 4 x width) and an
    LSTM language model whose hidden size is chosen so the two have the same number of
    parameters (within a fraction of a percent). Sinusoidal positions, so neither's size
    depends on the sequence length."""
    import math

    from .models.recurrent import RecurrentConfig, RecurrentModel
    from .models.transformer import TransformerConfig, TransformerModel
    from .training import count_parameters

    check_int("width", width, minimum=8)
    lm = dict(vocab_size=vocab_size, output_size=vocab_size, readout="all", loss="cross_entropy")
    transformer = TransformerModel(TransformerConfig(
        d_model=width, n_heads=max(1, width // 32), n_layers=2, d_ff=4 * width, causal=True,
        positions="sinusoidal", **lm))
    target, V, E = count_parameters(transformer), vocab_size, width
    # LSTM LM parameters: V E (embedding) + 4h(E + h) + 8h (gates) + h V + V (readout)
    a, b, c = 4, 4 * E + 8 + V, V * E + V - target
    hidden = max(1, round((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)))
    lstm = RecurrentModel(RecurrentConfig(kind="lstm", input_size=E, hidden_size=hidden, **lm))
    return {"LSTM": lstm, "Transformer": transformer}


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
    from .training import make_optimizer, use_autocast

    model.to(device).train()
    x, y = x.to(device), y.to(device)
    opt = make_optimizer("adam", list(model.parameters()), lr=1e-3, device=device)
    amp = use_autocast(model, device, mixed_precision)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            _, loss = model(x, y)
        loss.backward()
        opt.step()

    return {**time_call(step, device=device, repeats=repeats, warmup=warmup), "bf16": amp}


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
    """:func:`training_throughput` of the :func:`char_lm_pair` at every width and length:
    one row per family, width and length, with ``parameters`` and ``tokens_per_s``."""
    import pandas as pd
    from tqdm.auto import tqdm

    from .training import count_parameters, progress_enabled

    rows = []
    grid = [(w, n) for w in widths for n in lengths]
    for width, length in tqdm(grid, disable=not progress_enabled(progress), desc="throughput",
                              leave=False):
        torch.manual_seed(0)
        for family, model in char_lm_pair(width).items():
            result = training_throughput(model, length=length, device=device, repeats=repeats,
                                         tokens_per_step=max(tokens_per_step, length),
                                         mixed_precision=mixed_precision)
            rows.append({"family": family, "width": width, "length": length,
                         "parameters": count_parameters(model), **result})
    return pd.DataFrame(rows)


def where_transformer_leads(sweep: pd.DataFrame) -> dict[str, object]:
    """Read a :func:`parallelism_sweep`: the Transformer's tokens/s over the LSTM's in each
    setting, how many settings it leads, the best ratio and where, and a sentence that says so."""
    wide = sweep.pivot_table(index=["width", "length"], columns="family", values="tokens_per_s")
    ratio = wide["Transformer"] / wide["LSTM"]
    best = ratio.idxmax()
    leads = ratio[ratio > 1]
    n, k = len(ratio), len(leads)
    if k == 0:
        sentence = (f"the LSTM trains more tokens per second than the Transformer in every one "
                    f"of the {n} settings measured; the Transformer comes closest at width "
                    f"{best[0]} and length {best[1]} ({ratio.max():.2f} times the LSTM's rate)")
    elif k == n:
        sentence = (f"the Transformer trains more tokens per second than the LSTM in every one "
                    f"of the {n} settings measured, up to {ratio.max():.2f} times as many (width "
                    f"{best[0]}, length {best[1]})")
    else:
        where = ", ".join(f"width {w} and length {t}" for w, t in leads.index)
        sentence = (f"the Transformer trains more tokens per second than the LSTM in {k} of the "
                    f"{n} settings measured ({where}), up to {ratio.max():.2f} times as many; "
                    f"in the others the LSTM is ahead")
    return {"ratio": ratio, "settings": n, "leads": k, "best_ratio": float(ratio.max()),
            "best_width": int(best[0]), "best_length": int(best[1]), "sentence": sentence}


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
