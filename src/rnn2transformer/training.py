"""The book's one training loop.

:func:`train` is a plain function with keyword arguments (no trainer classes, no callbacks
framework) that returns a history table. Every model the book trains goes through it, so the
details that matter for honest comparisons live in one place:

* batches come either from a pair of tensors (shuffled per epoch by a seeded permutation) or from
  a function that draws a fresh batch from a seeded ``torch.Generator`` (the synthetic tasks);
* on CUDA: matrix products use TF32, large models run the forward pass under bf16 autocast
  (the precision policy, :func:`use_autocast`), Adam runs as one fused kernel, the package's
  batch functions draw on the GPU, and losses are summed on the device, so the loop never waits
  for the GPU between evaluations;
* under ``torchrun`` (a process group, :mod:`.distributed`) the same call trains data-parallel:
  ``batch_size`` is the global batch, each rank takes its share, gradients are averaged, and
  rank 0 evaluates and writes the checkpoints;
* an :class:`Ensemble` (several independent models run as one, a sweep of small runs) trains
  in one call: each member has its own learning rate, optimizer state and gradient clipping,
  and the history has one row per member and evaluation;
* a checkpoint file makes a run resumable: an interrupted run started again with the same
  arguments ends with exactly the weights an uninterrupted one would have (model, optimizer,
  random-number states and running sums are all saved). A checkpoint that cannot be read is
  reported and the run starts from scratch.

Models must follow the package convention ``forward(x, targets) -> (out, loss)``.
"""

from __future__ import annotations

import inspect
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import distributed
from ._checks import check_choice, check_float, check_int
from .book import current_scale
from .device import get_device

Batch = tuple[torch.Tensor, torch.Tensor]
BatchFn = Callable[[torch.Generator], Batch]
Metric = Callable[[torch.Tensor, torch.Tensor], float | torch.Tensor]

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
# The precision policy (docs/design.md): below this many parameters a model's step on a GPU is
# bound by kernel launches, and bf16 autocast only adds casts (measured 1.2-1.6x slower on an
# H100 for the book's models of 0.02-0.4 M parameters); above it the matrix products dominate
# and bf16 pays. `make bench` on cuda measures both precisions by size to check the threshold.
AUTOCAST_MIN_PARAMETERS = 2_000_000
# RNN2T_SCALE=smoke: every run trains this many steps at most, with as many evaluations as the
# full run would have had, up to one per step (a chapter that reads several rows finds them)
SMOKE_STEPS = 6
SCHEDULES = ("constant", "cosine")
ENV_BOOK_BUILD = "RNN2T_BOOK_BUILD"


class Ensemble(nn.Module):
    """Several independent models that :func:`train` trains as one.

    A subclass holds the models in ``members`` (an ``nn.ModuleList``: their parameters are the
    ensemble's) and computes them together; ``forward(x, targets)`` returns ``(out, losses)``
    with every member's output stacked along a first dimension and ``losses`` of shape
    ``(len(members),)``. The members must not interact: then the gradient of the summed losses
    is, for each member, its own loss's gradient, and training the ensemble is training each
    member alone. (:class:`~rnn2transformer.models.ensemble.RecurrentEnsemble` is the one the
    book uses.)
    """

    members: nn.ModuleList


def progress_enabled(progress: bool | None = None) -> bool:
    """Progress bars show in a live session and stay out of the book's build log."""
    if progress is not None:
        return bool(progress)
    return os.environ.get(ENV_BOOK_BUILD, "") in ("", "0")


def _check_data(name: str, data: Any) -> None:
    if callable(data):
        try:
            inspect.signature(data).bind(torch.Generator())
        except TypeError:
            raise TypeError(
                f"{name} as a function must take one argument, the torch.Generator it draws "
                f"from (generator -> (inputs, targets)); {getattr(data, '__name__', data)!r} "
                f"has the signature {inspect.signature(data)}"
            ) from None
        except ValueError:  # a builtin without a signature: it is called and may fail then
            pass
        return
    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise TypeError(
            f"{name} must be a pair (inputs, targets) of tensors or a function "
            f"generator -> (inputs, targets), got {type(data).__name__}"
        )
    x, y = data
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
        raise TypeError(
            f"{name} must hold two tensors, got ({type(x).__name__}, {type(y).__name__})"
        )
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"{name}: inputs and targets must have the same, non-zero length, "
            f"got {len(x)} and {len(y)}"
        )


def make_optimizer(
    name: str, params, *, lr: float, weight_decay: float = 0.0, momentum: float = 0.9,
    device: torch.device | None = None,
) -> torch.optim.Optimizer:
    """The optimizer ``name`` for ``params``. On CUDA, Adam and AdamW run fused (one kernel
    for every parameter) and the others with foreach (one kernel per operation, not per
    parameter); on the CPU PyTorch's defaults are kept, so CPU results stay as they were."""
    check_choice("optimizer", name, OPTIMIZERS)
    on_cuda = device is not None and device.type == "cuda"
    if name in ("adam", "adamw"):
        kind = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return kind(params, lr=lr, weight_decay=weight_decay, fused=True if on_cuda else None)
    foreach = True if on_cuda else None
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, foreach=foreach)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                           foreach=foreach)


def use_autocast(model: nn.Module, device: torch.device, mixed_precision: bool | str) -> bool:
    """Whether :func:`train` runs ``model``'s forward pass under bf16 autocast on ``device``.

    ``mixed_precision`` is True (always on CUDA), False (never) or ``"auto"``, the policy:
    bf16 only on CUDA and only for models of at least ``AUTOCAST_MIN_PARAMETERS`` parameters;
    smaller ones train in float32 with TF32 matrix products. Never on other devices.
    """
    if mixed_precision not in (True, False, "auto"):
        raise ValueError(f"mixed_precision must be True, False or 'auto', got {mixed_precision!r}")
    if device.type != "cuda" or mixed_precision is False:
        return False
    if mixed_precision is True:
        return True
    return count_parameters(model) >= AUTOCAST_MIN_PARAMETERS


def learning_rate(
    step: int, *, lr: float, total_steps: int, warmup_steps: int = 0, schedule: str = "constant"
) -> float:
    """The learning rate at ``step``: linear warm-up, then constant or cosine decay to 0."""
    if warmup_steps and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "cosine":
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return lr


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Batch,
    *,
    metrics: dict[str, Metric] | None = None,
    batch_size: int = 1024,
    device: torch.device | None = None,
) -> dict[str, float]:
    """Mean loss (and metrics) of ``model`` over ``data``, computed in batches. For an
    :class:`Ensemble` each value is a list with one entry per member."""
    _check_data("data", data)
    device = device or next(model.parameters()).device
    ensemble = isinstance(model, Ensemble)
    was_training = model.training
    model.eval()
    x_all, y_all = data
    totals: dict[str, float] = {}
    n_total = 0
    for i in range(0, len(x_all), batch_size):
        x = x_all[i : i + batch_size].to(device)
        y = y_all[i : i + batch_size].to(device)
        out, loss = model(x, y)
        n = len(x)
        values = {"loss": loss}
        for name, fn in (metrics or {}).items():
            values[name] = (torch.stack([torch.as_tensor(fn(o, y)) for o in out])
                            if ensemble else fn(out, y))
        for name, value in values.items():
            value = torch.as_tensor(value).detach().double().cpu() if ensemble else float(value)
            totals[name] = totals.get(name, 0.0) + value * n
        n_total += n
    model.train(was_training)
    if ensemble:
        return {name: (total / n_total).tolist() for name, total in totals.items()}
    return {name: total / n_total for name, total in totals.items()}


@torch.no_grad()
def loss_by_position(
    model: nn.Module, data: Batch, *, batch_size: int = 256, device: torch.device | None = None
) -> pd.DataFrame:
    """Mean cross-entropy (nats) of a language model at each position of its windows.

    ``data`` is ``(x, y)`` of token ids, (N, T), e.g. from
    :func:`rnn2transformer.corpus.char_lm_eval_set`; the model's ``forward(x)`` returns logits
    (N, T, V). Position ``t`` has seen ``t + 1`` tokens of context, so the curve shows how much
    a model gains from more context. Returns columns ``position`` (0-based) and ``loss``.
    """
    _check_data("data", data)
    x_all, y_all = data
    if x_all.ndim != 2 or x_all.shape != y_all.shape:
        raise ValueError(f"data must be (x, y) of shape (N, T) each, got {tuple(x_all.shape)} "
                         f"and {tuple(y_all.shape)}")
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = torch.zeros(x_all.shape[1], dtype=torch.float64, device=device)
    for i in range(0, len(x_all), batch_size):
        x, y = x_all[i : i + batch_size].to(device), y_all[i : i + batch_size].to(device)
        logits, _ = model(x)
        losses = F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none")  # (B, T)
        total += losses.sum(dim=0).double()
    model.train(was_training)
    return pd.DataFrame({"position": range(x_all.shape[1]),
                         "loss": (total / len(x_all)).cpu().numpy()})


def context_that_helps(by_position: pd.DataFrame, *, within: float = 0.02) -> int:
    """How many tokens of context still lower a model's loss, read from
    :func:`loss_by_position`: positions are grouped in doubling bins (1, 2-3, 4-7, ... tokens
    seen), and this is the start of the first bin from which every later bin's mean loss stays
    within ``within`` (a fraction) of the last bin's. Bins average away the noise of single
    positions; the last bin is the level the model reaches with all the context it has."""
    if not isinstance(by_position, pd.DataFrame) or not {"position", "loss"} <= set(by_position):
        raise ValueError("by_position must be a loss_by_position table (position, loss)")
    check_float("within", within, minimum=0.0)
    seen = by_position.position.to_numpy() + 1  # tokens of context at each position
    bins = pd.Series(by_position.loss.to_numpy()).groupby(np.floor(np.log2(seen)).astype(int))
    means = bins.mean()
    above = means.to_numpy() > means.iloc[-1] * (1 + within)
    first_flat = int(np.nonzero(above)[0].max() + 1) if above.any() else 0
    return int(2 ** means.index[first_flat])


@torch.no_grad()
def shuffled_context_loss(
    model: nn.Module, data: Batch, *, keep_last: int, score_last: int, seed: int = 0,
    device: torch.device | None = None,
) -> dict[str, float]:
    """How much a language model uses distant context: its loss on the last ``score_last``
    positions of each window, as it is and with every token before the last ``keep_last``
    shuffled within the window (the same words, no longer in order). Returns ``intact``,
    ``shuffled`` and their difference ``cost`` (nats per token)."""
    _check_data("data", data)
    x, y = data
    check_int("keep_last", keep_last, minimum=1)
    check_int("score_last", score_last, minimum=1)
    T = x.shape[1]
    if not score_last <= keep_last < T:
        raise ValueError(f"need score_last <= keep_last < T = {T}, got {score_last} and "
                         f"{keep_last}")
    g = torch.Generator().manual_seed(seed)
    far = T - keep_last  # positions 0 .. far-1 are "distant" and get shuffled
    order = torch.argsort(torch.rand(len(x), far, generator=g), dim=1)
    shuffled = x.clone()
    shuffled[:, :far] = torch.gather(x[:, :far], 1, order)
    intact = loss_by_position(model, (x, y), device=device).loss.iloc[-score_last:].mean()
    broken = loss_by_position(model, (shuffled, y), device=device).loss.iloc[-score_last:].mean()
    return {"intact": float(intact), "shuffled": float(broken), "cost": float(broken - intact)}


def _save_atomically(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, fingerprint: dict) -> dict | None:
    """Return a usable checkpoint, or None (with a message) to start from scratch."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or "model" not in state:
            raise ValueError("not a training checkpoint")
    except Exception as error:  # a half-written or foreign file: retrain, say so
        warnings.warn(
            f"checkpoint {path} could not be read ({type(error).__name__}: {error}); "
            "training from scratch",
            stacklevel=3,
        )
        return None
    if state.get("fingerprint") != fingerprint:
        warnings.warn(
            f"checkpoint {path} was written by a run with other settings "
            f"({state.get('fingerprint')} != {fingerprint}); training from scratch",
            stacklevel=3,
        )
        return None
    return state


def train(
    model: nn.Module,
    train_data: Batch | BatchFn,
    *,
    val_data: Batch | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int = 64,
    lr: float = 1e-3,
    optimizer: str = "adam",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
    schedule: str = "constant",
    clip_grad_norm: float | None = None,
    eval_every: int | None = None,
    metrics: dict[str, Metric] | None = None,
    callback: Callable[[int, nn.Module], None] | None = None,
    stop_when: Callable[[dict[str, float]], bool] | None = None,
    device: torch.device | str | None = None,
    mixed_precision: bool | str = "auto",
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    stop_on_nan: bool = True,
    seed: int = 0,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Train ``model`` and return its history, one row per evaluation.

    Args:
        model: a module with ``forward(x, targets) -> (out, loss)``, or an :class:`Ensemble`.
        train_data: ``(inputs, targets)`` tensors, or a function ``generator -> (x, y)``
            that draws one batch (then ``steps`` is required).
        val_data: ``(inputs, targets)`` evaluated every ``eval_every`` steps.
        steps, epochs: how long to train; give exactly one (epochs only with tensors).
        batch_size: examples per step when ``train_data`` is a pair of tensors (under
            ``torchrun``: the global batch, shared by the ranks).
        lr, optimizer, momentum, weight_decay: the optimizer (adam, adamw, sgd, rmsprop).
            For an :class:`Ensemble`, ``lr`` may be a list with one learning rate per member.
        warmup_steps, schedule: linear warm-up, then a constant or cosine learning rate.
        clip_grad_norm: clip the global gradient norm to this value (None: no clipping);
            an ensemble's members each their own. The history's ``grad_norm`` column is the
            norm *before* clipping.
        eval_every: steps between history rows (default: about 20 rows per run).
        metrics: ``name -> fn(out, targets)`` evaluated on ``val_data``.
        callback: ``fn(step, model)`` called after each evaluation (snapshots, plots); on
            rank 0 only under ``torchrun``.
        stop_when: ``fn(row) -> bool`` on each new history row; True ends training there
            (for "steps until the loss first drops below x" experiments).
        device: where to train (default :func:`get_device`).
        mixed_precision: bf16 autocast on CUDA: True, False, or "auto" (by model size, see
            :func:`use_autocast`); ignored on other devices.
        checkpoint: file to resume from and save to; a finished run is returned at once.
        checkpoint_every: steps between checkpoint saves (default: at each evaluation).
        stop_on_nan: stop at the first evaluation whose training loss is not finite (an
            ensemble stops when any member's is: a member that diverged can spread NaN to
            the others in a fused computation).
        seed: seeds the batch order / batch generator (seed the model yourself).
        progress: show a progress bar (default: yes, except in the book's build).

    Returns:
        A DataFrame with columns ``step, epoch, lr, train_loss, grad_norm, val_loss``, one
        column per metric, and ``elapsed_s`` (seconds of training so far). For an ensemble a
        first column ``member`` (the index in ``model.members``) and one row per member.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_data("train_data", train_data)
    if val_data is not None:
        if callable(val_data):
            raise TypeError("val_data must be a pair (inputs, targets) of tensors, got a function")
        _check_data("val_data", val_data)
    if (steps is None) == (epochs is None):
        raise ValueError(f"give exactly one of steps or epochs, got steps={steps}, epochs={epochs}")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if epochs is not None:
        check_int("epochs", epochs, minimum=1)
        if callable(train_data):
            raise ValueError("epochs needs train_data as tensors; with a batch function give steps")
        steps_per_epoch = math.ceil(len(train_data[0]) / batch_size)
        total_steps = epochs * steps_per_epoch
    else:
        total_steps = check_int("steps", steps, minimum=1)
        steps_per_epoch = (
            None if callable(train_data) else math.ceil(len(train_data[0]) / batch_size)
        )
    ensemble = isinstance(model, Ensemble)
    members = list(model.members) if ensemble else [model]
    lrs = _learning_rates(lr, len(members) if ensemble else None)
    lr = lrs[0]
    optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
    schedule = check_choice("schedule", schedule, SCHEDULES)
    check_float("weight_decay", weight_decay, minimum=0.0)
    check_int("warmup_steps", warmup_steps, minimum=0)
    check_int("seed", seed, minimum=0)
    if clip_grad_norm is not None:
        check_float("clip_grad_norm", clip_grad_norm, minimum=0.0, strict_minimum=True)
    if eval_every is None:
        eval_every = max(1, total_steps // 20)
    if current_scale() == "smoke":  # a test of the reader's path, not an experiment
        evaluations = max(1, total_steps // eval_every)
        total_steps = min(total_steps, SMOKE_STEPS)
        eval_every = max(1, total_steps // evaluations)
    check_int("eval_every", eval_every, minimum=1)
    if checkpoint_every is not None:
        check_int("checkpoint_every", checkpoint_every, minimum=1)
    for name, fn in (metrics or {}).items():
        if not callable(fn):
            raise TypeError(f"metrics[{name!r}] must be a function (out, targets) -> float")

    if ensemble and checkpoint is not None:
        raise ValueError("an Ensemble is trained without checkpoint= (its members' runs are "
                         "short sweeps); train a member alone to checkpoint it")
    if ensemble and stop_when is not None:
        raise ValueError("stop_when ends one run at its own step; an Ensemble's members share "
                         "their steps, so train them one by one to use it")

    device = get_device(device) if not isinstance(device, torch.device) else device
    here = distributed.setup(device)  # rank 0 of 1 unless torchrun started this process
    if ensemble and here.distributed:
        raise ValueError("an Ensemble trains in one process; under torchrun train its "
                         "members one by one")
    if here.distributed:
        if device.type == "cuda" and device.index is None:  # one device per process
            device = torch.device("cuda", here.local_rank)
        distributed.check_split(
            batch_size, None if callable(train_data) else len(train_data[0]), here.size
        )
    model.to(device)
    use_amp = use_autocast(model, device, mixed_precision)
    if device.type == "cuda":  # float32 matrix products on tensor cores (TF32)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    # One parameter group per member (a single model is one member): each has its own
    # learning rate, and is clipped on its own.
    groups = [[p for p in m.parameters() if p.requires_grad] for m in members]
    if not all(groups):
        raise ValueError("model has no trainable parameters (all have requires_grad=False)")
    params = [p for group in groups for p in group]
    param_groups = [{"params": g, "lr": r} for g, r in zip(groups, lrs, strict=True)]
    opt = make_optimizer(optimizer, param_groups, lr=lr, weight_decay=weight_decay,
                         momentum=momentum, device=device)

    # Tensor data moves to the device once; batches are then gathered there.
    if not callable(train_data):
        x_train = train_data[0].to(device)
        y_train = train_data[1].to(device)
    # A batch function marked with synthetic.draws_on_device draws where training happens.
    on_device = callable(train_data) and getattr(train_data, "draws_on_device", False)
    # Each rank draws its own batches; rank 0 (and a single process) from `seed` itself.
    data_generator = torch.Generator(device=device if on_device else "cpu").manual_seed(
        distributed.rank_seed(seed, here.rank))
    # The module that trains: the model, or its data-parallel wrapper under torchrun.
    # Evaluation and checkpoints use the model itself (they run on rank 0 alone).
    net = distributed.wrap(model, device) if here.distributed else model

    # What must match for a checkpoint to be resumed.
    fingerprint = {
        "total_steps": total_steps,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "seed": seed,
        "n_params": sum(p.numel() for p in model.parameters()),
        "architecture": repr(model),  # layer types and sizes, so a changed model retrains
    }
    if here.distributed:  # each rank's batches depend on how many ranks share them
        fingerprint["world_size"] = here.size
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and getattr(train_data, "consecutive", False):
        raise ValueError("this batch function hands out consecutive windows and keeps its "
                         "position itself, so a run cannot be resumed from a checkpoint; "
                         "train it without checkpoint=")
    state = _load_checkpoint(path, fingerprint) if path is not None else None

    start_step, history, elapsed_before = 0, [], 0.0
    sums_shape = (len(members),) if ensemble else ()
    loss_sum = torch.zeros(sums_shape, device=device)
    grad_sum = torch.zeros(sums_shape, device=device)
    n_since_eval = 0
    def rank_state() -> dict:
        # what differs between ranks: their random streams and their running sums
        return {
            "data_rng": data_generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "loss_sum": float(loss_sum),
            "grad_sum": float(grad_sum),
        }

    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        mine = state["ranks"][here.rank] if here.distributed else state
        data_generator.set_state(mine["data_rng"])
        torch.set_rng_state(mine["torch_rng"])
        if device.type == "cuda" and mine.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(mine["cuda_rng"], device)
        start_step = state["step"]
        history = state["history"]
        elapsed_before = state["elapsed_s"]
        loss_sum += mine["loss_sum"]
        grad_sum += mine["grad_sum"]
        n_since_eval = state["n_since_eval"]

    def save(step: int, elapsed: float) -> None:
        ranks = distributed.gather_to_main(rank_state()) if here.distributed else None
        if not here.is_main:
            return
        _save_atomically(
            {
                "fingerprint": fingerprint,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                **rank_state(),
                "ranks": ranks,
                "step": step,
                "history": history,
                "elapsed_s": elapsed,
                "n_since_eval": n_since_eval,
            },
            path,
        )

    permutation: torch.Tensor | None = None
    permutation_epoch = -1

    def next_batch(step: int) -> Batch:
        nonlocal permutation, permutation_epoch
        if callable(train_data):
            x, y = train_data(data_generator)
            if device.type == "cuda" and x.device.type == "cpu":  # page-locked memory lets
                x, y = x.pin_memory(), y.pin_memory()  # the copy overlap with compute
            return x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        # Stateless shuffling: epoch e always uses the same permutation, so a resumed run
        # draws exactly the batches the uninterrupted run would have drawn.
        epoch, position = divmod(step, steps_per_epoch)
        if epoch != permutation_epoch:
            g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            permutation = torch.randperm(len(x_train), generator=g).to(device)
            permutation_epoch = epoch
        index = permutation[position * batch_size : (position + 1) * batch_size]
        if here.distributed:  # this rank's share of the global batch
            index = index[distributed.share_of_batch(len(index), here.size, here.rank)]
        return x_train[index], y_train[index]

    def loss_weight(step: int) -> float:
        # Under torchrun the wrapper averages gradients over ranks. Ranks hold equal shares of
        # a batch except, perhaps, in an epoch's last batch; weighting each rank's mean loss
        # by its share makes that average the mean over the global batch, as in one process.
        if not here.distributed or callable(train_data):
            return 1.0
        position = step % steps_per_epoch
        n = min(batch_size, len(x_train) - position * batch_size)
        share = distributed.share_of_batch(n, here.size, here.rank)
        return (share.stop - share.start) * here.size / n

    model.train()
    bar = tqdm(
        total=total_steps,
        initial=start_step,
        disable=not (progress_enabled(progress) and here.is_main),
        desc="train",
        leave=False,
    )
    started = time.perf_counter()
    step = start_step
    try:
        while step < total_steps:
            current_lrs = [
                learning_rate(step, lr=base, total_steps=total_steps,
                              warmup_steps=warmup_steps, schedule=schedule)
                for base in lrs
            ]
            for group, current_lr in zip(opt.param_groups, current_lrs, strict=True):
                group["lr"] = current_lr
            x, y = next_batch(step)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                _, loss = net(x, y)
            if here.distributed:
                loss = loss * loss_weight(step)
            opt.zero_grad(set_to_none=True)
            # An ensemble's members do not interact: the summed losses' gradient is, for each
            # member, its own loss's.
            (loss.sum() if ensemble else loss).backward()
            # The norm before clipping is recorded: it is what the gradient chapters plot.
            max_norm = clip_grad_norm if clip_grad_norm is not None else float("inf")
            if ensemble:
                grad_norm = torch.stack(
                    [torch.nn.utils.clip_grad_norm_(g, max_norm) for g in groups])
            else:
                grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
            opt.step()
            loss_sum += loss.detach().float()
            grad_sum += grad_norm.detach().float()
            n_since_eval += 1
            step += 1
            bar.update(1)

            if step % eval_every == 0 or step == total_steps:
                distributed.mean_over_ranks(loss_sum)  # the global batches' mean loss
                distributed.mean_over_ranks(grad_sum)
                # the one sync per evaluation (in float64, as the history keeps them)
                losses = (loss_sum.cpu().double() / n_since_eval).tolist()
                norms = (grad_sum.cpu().double() / n_since_eval).tolist()
                loss_sum.zero_()
                grad_sum.zero_()
                n_since_eval = 0
                scores = {}
                if val_data is not None and here.is_main:
                    scores = evaluate(model, val_data, metrics=metrics, device=device)
                    scores = {"val_loss": scores.pop("loss"), **scores}
                    model.train()
                elapsed = elapsed_before + time.perf_counter() - started
                rows = []
                for i in range(len(members)):  # one row; an ensemble's, one per member
                    row: dict[str, float] = {
                        "step": step,
                        "epoch": step / steps_per_epoch if steps_per_epoch else float("nan"),
                        "lr": current_lrs[i],
                        "train_loss": losses[i] if ensemble else losses,
                        "grad_norm": norms[i] if ensemble else norms,
                    }
                    row.update({k: v[i] if ensemble else v for k, v in scores.items()})
                    row["elapsed_s"] = elapsed
                    rows.append({"member": i, **row} if ensemble else row)
                if not ensemble:
                    rows = [distributed.from_main(rows[0])]  # every rank keeps rank 0's row
                history.extend(rows)
                bar.set_postfix(loss=f"{rows[0]['train_loss']:.4f}")
                if callback is not None and here.is_main:
                    callback(step, model)
                    model.train()
                if stop_on_nan and not all(math.isfinite(r["train_loss"]) for r in rows):
                    break
                if stop_when is not None and stop_when(rows[0]):
                    break
            if path is not None and (
                step == total_steps
                or (checkpoint_every and step % checkpoint_every == 0)
                or (not checkpoint_every and step % eval_every == 0)
            ):
                save(step, elapsed_before + time.perf_counter() - started)
    finally:
        bar.close()
    model.eval()
    return pd.DataFrame(history)


def _learning_rates(lr: Any, n_members: int | None) -> list[float]:
    """``lr`` as one learning rate per member (``n_members`` None: a single model)."""
    if isinstance(lr, list | tuple):
        if n_members is None:
            raise TypeError(f"lr must be a number for a single model, got a {type(lr).__name__}"
                            " (a list of learning rates is for an Ensemble)")
        if len(lr) != n_members:
            raise ValueError(f"lr: give one learning rate per member, {n_members}, got "
                             f"{len(lr)}")
        return [check_float(f"lr[{i}]", r, minimum=0.0, strict_minimum=True)
                for i, r in enumerate(lr)]
    rate = check_float("lr", lr, minimum=0.0, strict_minimum=True)
    return [rate] * (n_members or 1)


def train_val_split(
    x: torch.Tensor, y: torch.Tensor, *, val_fraction: float = 0.2, seed: int = 0
) -> tuple[Batch, Batch]:
    """Shuffle ``(x, y)`` with a seeded permutation and split off a validation part."""
    _check_data("(x, y)", (x, y))
    check_float("val_fraction", val_fraction, minimum=0.0, maximum=1.0, strict_minimum=True)
    n_val = int(round(len(x) * val_fraction))
    if not 0 < n_val < len(x):
        raise ValueError(
            f"val_fraction={val_fraction} of {len(x)} examples leaves an empty part"
        )
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, tr = order[:n_val], order[n_val:]
    return (x[tr], y[tr]), (x[val], y[val])


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Share of rows whose largest logit is the target class (a metric for :func:`train`)."""
    return (logits.argmax(dim=-1) == targets).float().mean()


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (only those with ``requires_grad`` if asked)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def task_loss(out: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    """The loss the book's task models share: ``"mse"`` or ``"cross_entropy"`` over the last
    dimension of ``out``. Computed in at least float32, also when ``out`` came from bf16."""
    pred = out if out.dtype == torch.float64 else out.float()
    if kind == "mse":
        return F.mse_loss(pred, targets.to(pred.dtype))
    if kind == "cross_entropy":
        return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), targets.reshape(-1))
    raise ValueError(f"kind must be 'mse' or 'cross_entropy', got {kind!r}")
