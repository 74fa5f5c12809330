"""The book's one training loop, :func:`train`, and what it is made of.

:func:`train` is a plain function with keyword arguments (no trainer classes, no callbacks
framework) that returns a history table, one row per evaluation. Every model the book trains
goes through it, so the details that matter for honest comparisons live in one place. Its body
is the loop every reader knows (batch, forward, loss, backward, clip, step, schedule, evaluate,
record; chapter 1 shows it); what else a run may need is composed around it, not written into it:

* :class:`Batches` hands out step ``s``'s batch: from a pair of tensors, shuffled per epoch by
  a permutation seeded from ``(seed, epoch)``, or from a function that draws a batch from a
  seeded ``torch.Generator`` (the synthetic tasks);
* :mod:`.checkpoint` makes a run resumable: an interrupted run started again with the same
  arguments ends with exactly the weights an uninterrupted one would have;
* :mod:`.distributed`: under ``torchrun`` the same call trains data-parallel (``batch_size``
  is the global batch, each rank takes its share, rank 0 evaluates and writes);
* on CUDA (:func:`use_autocast`, :func:`make_optimizer`): TF32 matrix products, bf16 autocast
  for large models, fused Adam, batches drawn on the GPU, losses summed on the device so the
  loop never waits for the GPU between evaluations;
* :mod:`.settings`: the smoke scale cuts a run short, and the book's build turns progress bars
  off; :func:`~rnn2transformer.device.fit_threads` keeps the CPU threads to the free cores.

Models follow the package convention ``forward(x, targets) -> (out, loss)``.

Arguments of :func:`train`:

* ``model``: a module with ``forward(x, targets) -> (out, loss)``.
* ``train_data``: ``(inputs, targets)`` tensors, or a function ``generator -> (x, y)`` that
  draws one batch (then ``steps`` is required). ``val_data``: ``(inputs, targets)``, evaluated
  every ``eval_every`` steps (default: about 20 rows per run) with ``metrics``
  (``name -> fn(out, targets)``).
* ``steps`` or ``epochs`` (exactly one; epochs only with tensors); ``batch_size`` (under
  ``torchrun`` the global batch).
* ``lr``, ``optimizer`` (adam, adamw, sgd, rmsprop), ``momentum``, ``weight_decay``;
  ``warmup_steps`` and ``schedule`` (linear warm-up, then constant or cosine).
* ``clip_grad_norm``: clip the gradient norm to this value (None: no clipping); the history's
  ``grad_norm`` is the norm *before* clipping.
* ``callback``: ``fn(step, model)`` after each evaluation (on rank 0 only under torchrun);
  ``stop_when``: ``fn(row) -> bool`` on each new row, True ends training there;
  ``stop_on_nan``: stop at the first row whose training loss is not finite.
* ``device`` (default :func:`~rnn2transformer.device.get_device`); ``mixed_precision``: bf16
  autocast on CUDA, True, False or "auto" (by model size, :func:`use_autocast`).
* ``checkpoint``: a file to resume from and save to (every ``checkpoint_every`` steps, default
  at each evaluation); a finished run is returned at once.
* ``seed``: seeds the batch order or the batch generator (seed the model yourself);
  ``progress``: show a progress bar (default: yes, except in the book's build).

The history has columns ``step, epoch, lr, train_loss, grad_norm, val_loss``, one per metric,
and ``elapsed_s`` (seconds of training so far). The model is returned in evaluation mode.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed
from ._checks import check_choice, check_float, check_int, check_tensor
from .checkpoint import Checkpoint, RankState, fingerprint
from .device import fit_threads
from .models.shared import count_parameters, evaluating
from .settings import progress_enabled, steps_at_scale

Batch = tuple[torch.Tensor, torch.Tensor]
BatchFn = Callable[[torch.Generator], Batch]
Metric = Callable[[torch.Tensor, torch.Tensor], float | torch.Tensor]

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine")
# The precision policy (docs/design.md): below this many parameters a model's step on a GPU is
# bound by kernel launches, and bf16 autocast only adds casts (measured 1.2-1.6x slower on an
# H100 for the book's models of 0.02-0.4 M parameters); above it the matrix products dominate
# and bf16 pays. `make bench` on cuda measures both precisions by size to check the threshold.
AUTOCAST_MIN_PARAMETERS = 2_000_000


def train(
    model: nn.Module, train_data: Batch | BatchFn, *, val_data: Batch | None = None,
    steps: int | None = None, epochs: int | None = None, batch_size: int = 64,
    lr: float = 1e-3, optimizer: str = "adam", momentum: float = 0.9, weight_decay: float = 0.0,
    warmup_steps: int = 0, schedule: str = "constant", clip_grad_norm: float | None = None,
    eval_every: int | None = None, metrics: dict[str, Metric] | None = None,
    callback: Callable[[int, nn.Module], None] | None = None,
    stop_when: Callable[[dict[str, float]], bool] | None = None, stop_on_nan: bool = True,
    device: torch.device | str | None = None, mixed_precision: bool | str = "auto",
    checkpoint: str | Path | None = None, checkpoint_every: int | None = None, seed: int = 0,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Train ``model`` on ``train_data``; return its history, one row per evaluation (the
    arguments are described in this module's docstring)."""
    run = check_run(model, train_data, val_data, RunSettings(  # every setting, checked once
        steps=steps, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
        momentum=momentum, weight_decay=weight_decay, warmup_steps=warmup_steps,
        schedule=schedule, clip_grad_norm=clip_grad_norm, eval_every=eval_every,
        mixed_precision=mixed_precision, seed=seed),
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, metrics=metrics)
    device, net = distributed.place(model, device, run.batch_size, train_data)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(run.optimizer, params, lr=run.lr, weight_decay=run.weight_decay,
                         momentum=run.momentum, device=device)
    amp = precision_policy(model, device, run.mixed_precision)
    batches = Batches(train_data, batch_size=run.batch_size, seed=run.seed, device=device)
    means = RunningMeans(device)
    # a checkpoint resumes only a run whose every setting (and model, and precision) matches
    saved = None if checkpoint is None else Checkpoint(
        checkpoint, fingerprint(model, **asdict(run), bf16=amp),
        every=checkpoint_every or run.eval_every)
    ranks = RankState(batches.generator, means, device)
    history, start, seconds_before = saved.resume(model, opt, ranks) if saved else ([], 0, 0.0)
    main = distributed.world().is_main
    started = time.perf_counter()
    model.train()
    with tqdm(total=run.steps, initial=start, desc="train", leave=False,
              disable=not (progress_enabled(progress) and main)) as bar:
        for step in range(start, run.steps):
            fit_threads()  # a core another program takes is a thread less (cheap: once a second)
            step_lr = learning_rate(step, lr=run.lr, total_steps=run.steps,
                                    warmup_steps=run.warmup_steps, schedule=run.schedule)
            for group in opt.param_groups:
                group["lr"] = step_lr
            x, y = batches.draw(step)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                _, loss = net(x, y)
            loss = batches.weighted(loss, step)  # unchanged unless ranks hold unequal shares
            opt.zero_grad(set_to_none=True)
            loss.backward()
            # the norm before clipping is recorded: it is what the gradient chapters plot
            grad_norm = torch.nn.utils.clip_grad_norm_(params, run.clip_grad_norm or math.inf)
            opt.step()
            means.add(loss, grad_norm)
            bar.update(1)
            done = step + 1
            if done % run.eval_every == 0 or done == run.steps:
                row = {"step": done, "epoch": batches.epoch(done), "lr": step_lr, **means.read()}
                if val_data is not None and main:
                    scores = evaluate(model, val_data, metrics=metrics, device=device)
                    row |= {"val_loss": scores.pop("loss"), **scores}
                row["elapsed_s"] = seconds_before + time.perf_counter() - started
                history.append(row := distributed.from_main(row))  # every rank keeps rank 0's
                bar.set_postfix(loss=f"{row['train_loss']:.4f}")
                if callback is not None and main:
                    callback(done, model)
                    model.train()
                if (stop_on_nan and not math.isfinite(row["train_loss"])) or (
                        stop_when is not None and stop_when(row)):
                    break
            if saved is not None and saved.due(done, run.steps):
                saved.save(model, opt, ranks, step=done, history=history,
                           elapsed_s=seconds_before + time.perf_counter() - started)
    model.eval()
    return pd.DataFrame(history)


class Batches:
    """The batches of one run. Step ``s``'s batch depends only on the seed and ``s`` (tensors:
    epoch ``e`` is shuffled by a permutation seeded from ``(seed, e)``) or on the state of
    :attr:`generator` (a batch function), which a checkpoint saves, so a resumed run draws
    exactly the batches an uninterrupted one would have. Under ``torchrun`` each rank takes
    its share of every global batch and draws from its own generator stream."""

    def __init__(self, data: Batch | BatchFn, *, batch_size: int, seed: int,
                 device: torch.device):
        self.fn = data if callable(data) else None
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.world = distributed.world()
        if self.fn is None:  # tensors move to the device once; batches are gathered there
            self.x, self.y = data[0].to(device), data[1].to(device)
            self.per_epoch = math.ceil(len(self.x) / batch_size)
        else:
            self.per_epoch = None
        # a batch function marked with synthetic.draws_on_device draws where training happens
        on_device = self.fn is not None and getattr(self.fn, "draws_on_device", False)
        self.generator = torch.Generator(device=device if on_device else "cpu").manual_seed(
            distributed.rank_seed(seed, self.world.rank))
        self._permutation: tuple[int, torch.Tensor] | None = None

    def draw(self, step: int) -> Batch:
        """The batch of step ``step`` (0-based), on the training device."""
        if self.fn is not None:
            x, y = self.fn(self.generator)
            if self.device.type == "cuda" and x.device.type == "cpu":  # page-locked memory
                x, y = x.pin_memory(), y.pin_memory()  # lets the copy overlap with compute
            return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        epoch, position = divmod(step, self.per_epoch)
        if self._permutation is None or self._permutation[0] != epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._permutation = epoch, torch.randperm(len(self.x), generator=g).to(self.device)
        index = self._permutation[1][position * self.batch_size:(position + 1) * self.batch_size]
        if self.world.distributed:  # this rank's share of the global batch
            index = index[distributed.share_of_batch(len(index), self.world.size,
                                                     self.world.rank)]
        return self.x[index], self.y[index]

    def weighted(self, loss: torch.Tensor, step: int) -> torch.Tensor:
        """``loss`` as this rank's part of the global batch's mean. Under ``torchrun`` the
        ranks' gradients are averaged; ranks hold equal shares of a batch except perhaps in
        an epoch's last one, and weighting each rank's mean loss by its share makes the
        average the global batch's mean, as in one process. Unchanged otherwise."""
        if not self.world.distributed or self.fn is not None:
            return loss
        position = step % self.per_epoch
        n = min(self.batch_size, len(self.x) - position * self.batch_size)
        share = distributed.share_of_batch(n, self.world.size, self.world.rank)
        return loss * ((share.stop - share.start) * self.world.size / n)

    def epoch(self, steps_done: int) -> float:
        """Epochs done after ``steps_done`` steps (NaN for a batch function)."""
        return steps_done / self.per_epoch if self.per_epoch else float("nan")


class RunningMeans:
    """The training loss and gradient norm summed on the device between evaluations and read
    once per evaluation, so a GPU run does not wait for the GPU at every step."""

    def __init__(self, device: torch.device):
        self.loss = torch.zeros((), device=device)
        self.grad_norm = torch.zeros((), device=device)
        self.count = 0

    def add(self, loss: torch.Tensor, grad_norm: torch.Tensor) -> None:
        self.loss += loss.detach().float()
        self.grad_norm += grad_norm.detach().float()
        self.count += 1

    def read(self) -> dict[str, float]:
        """The means since the last read, over every rank (the one sync per evaluation, in
        float64 as the history keeps them); the sums start again from zero."""
        distributed.mean_over_ranks(self.loss)
        distributed.mean_over_ranks(self.grad_norm)
        means = {"train_loss": (self.loss.cpu().double() / self.count).item(),
                 "grad_norm": (self.grad_norm.cpu().double() / self.count).item()}
        self.loss.zero_()
        self.grad_norm.zero_()
        self.count = 0
        return means

    def state(self) -> dict:
        return {"loss": self.loss.clone(), "grad_norm": self.grad_norm.clone(),
                "count": self.count}

    def load(self, state: dict) -> None:
        self.loss.copy_(state["loss"])
        self.grad_norm.copy_(state["grad_norm"])
        self.count = state["count"]


@dataclass(frozen=True)
class RunSettings:
    """Every setting of one :func:`train` run that changes what it computes, checked when it is
    made (a bad value fails at once, naming what was expected and given). :func:`train` builds
    it once from its arguments; :func:`check_run` resolves ``steps`` and ``eval_every`` for
    the data and the scale; the checkpoint's fingerprint holds every field, so a resumed run
    whose settings differ in any of them trains again (a field added here is fingerprinted
    with no further change)."""

    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "constant"
    clip_grad_norm: float | None = None
    eval_every: int | None = None
    mixed_precision: bool | str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.epochs is None):
            raise ValueError(f"give exactly one of steps or epochs, got steps={self.steps}, "
                             f"epochs={self.epochs}")
        for name in ("steps", "epochs", "eval_every"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        if isinstance(self.lr, list | tuple):
            raise TypeError(f"lr must be a number, got a {type(self.lr).__name__} (to sweep "
                            "learning rates, train one model per rate)")
        check_float("lr", self.lr, minimum=0.0, strict_minimum=True)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_float("momentum", self.momentum, minimum=0.0, maximum=1.0)
        check_float("weight_decay", self.weight_decay, minimum=0.0)
        check_int("warmup_steps", self.warmup_steps, minimum=0)
        check_choice("schedule", self.schedule, SCHEDULES)
        if self.clip_grad_norm is not None:
            check_float("clip_grad_norm", self.clip_grad_norm, minimum=0.0, strict_minimum=True)
        check_precision(self.mixed_precision)
        check_int("seed", self.seed, minimum=0)


def check_run(model: nn.Module, train_data: Batch | BatchFn, val_data: Batch | None,
              run: RunSettings, *, checkpoint: str | Path | None = None,
              checkpoint_every: int | None = None,
              metrics: dict[str, Metric] | None = None) -> RunSettings:
    """Refuse bad arguments to :func:`train` at once, with a message naming what was expected
    and given, and return ``run`` resolved: ``steps`` the run's length in steps (``epochs``
    turned into the steps they make, so the fingerprint holds what the run computes) and
    ``eval_every`` its steps between evaluations, both as the current scale has them
    (:func:`~rnn2transformer.settings.steps_at_scale`)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(run, RunSettings):
        raise TypeError(f"run must be a training.RunSettings, got {type(run).__name__}")
    check_data("train_data", train_data)
    if val_data is not None:
        if callable(val_data):
            raise TypeError("val_data must be a pair (inputs, targets) of tensors, got a function")
        check_data("val_data", val_data)
    if run.epochs is not None:
        if callable(train_data):
            raise ValueError("epochs needs train_data as tensors; with a batch function give steps")
        total_steps = run.epochs * math.ceil(len(train_data[0]) / run.batch_size)
    else:
        total_steps = run.steps
    if checkpoint_every is not None:
        check_int("checkpoint_every", checkpoint_every, minimum=1)
    if checkpoint is not None and getattr(train_data, "consecutive", False):
        raise ValueError("this batch function hands out consecutive windows and keeps its "
                         "position itself, so a run cannot be resumed from a checkpoint; "
                         "train it without checkpoint=")
    check_metrics(metrics)
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no trainable parameters (all have requires_grad=False)")
    total_steps, eval_every = steps_at_scale(
        total_steps, max(1, total_steps // 20) if run.eval_every is None else run.eval_every)
    return replace(run, steps=total_steps, epochs=None, eval_every=eval_every)


def check_metrics(metrics: Any) -> None:
    """``metrics``, as :func:`train` and :func:`evaluate` take it: None or a dict of name ->
    function (out, targets) -> float."""
    if metrics is not None and not isinstance(metrics, dict):
        raise TypeError(f"metrics must be a dict of name -> function, got "
                        f"{type(metrics).__name__}")
    for name, fn in (metrics or {}).items():
        if not callable(fn):
            raise TypeError(f"metrics[{name!r}] must be a function (out, targets) -> float")


def check_data(name: str, data: Any) -> None:
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


def check_precision(mixed_precision: Any) -> bool | str:
    """Return ``mixed_precision`` if it is True, False or ``"auto"`` (1 and 0 are refused: they
    compare equal to True and False but name no policy)."""
    if not any(mixed_precision is choice for choice in (True, False)) and mixed_precision != "auto":
        raise ValueError(f"mixed_precision must be True, False or 'auto', got {mixed_precision!r}")
    return mixed_precision


def use_autocast(model: nn.Module, device: torch.device, mixed_precision: bool | str) -> bool:
    """Whether :func:`train` runs ``model``'s forward pass under bf16 autocast on ``device``.

    ``mixed_precision`` is True (always on CUDA), False (never) or ``"auto"``, the policy:
    bf16 only on CUDA and only for models of at least ``AUTOCAST_MIN_PARAMETERS`` parameters;
    smaller ones train in float32 with TF32 matrix products. Never on other devices.
    """
    check_precision(mixed_precision)
    if device.type != "cuda" or mixed_precision is False:
        return False
    if mixed_precision is True:
        return True
    return count_parameters(model) >= AUTOCAST_MIN_PARAMETERS


def precision_policy(model: nn.Module, device: torch.device, mixed_precision: bool | str) -> bool:
    """Set up the precision a run on ``device`` uses and return whether its forward pass runs
    under bf16 autocast (:func:`use_autocast`): on CUDA, float32 matrix products run on tensor
    cores (TF32)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return use_autocast(model, device, mixed_precision)


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
    """Mean loss (and metrics) of ``model`` over ``data``, computed in batches in evaluation
    mode; the model keeps the mode it had."""
    check_data("data", data)
    check_int("batch_size", batch_size, minimum=1)
    check_metrics(metrics)
    device = device or next(model.parameters()).device
    x_all, y_all = data
    totals: dict[str, float] = {}
    with evaluating(model):
        for i in range(0, len(x_all), batch_size):
            x = x_all[i : i + batch_size].to(device)
            y = y_all[i : i + batch_size].to(device)
            out, loss = model(x, y)
            values = {"loss": loss, **{name: fn(out, y) for name, fn in (metrics or {}).items()}}
            for name, value in values.items():
                totals[name] = totals.get(name, 0.0) + float(value) * len(x)
    return {name: total / len(x_all) for name, total in totals.items()}


def train_val_split(
    x: torch.Tensor, y: torch.Tensor, *, val_fraction: float = 0.2, seed: int = 0
) -> tuple[Batch, Batch]:
    """Shuffle ``(x, y)`` with a seeded permutation and split off a validation part."""
    check_data("(x, y)", (x, y))
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
    """Share of rows whose largest logit is the target class (a metric for :func:`train`):
    ``logits`` (..., C), ``targets`` the class ids, of shape ``logits.shape[:-1]``."""
    check_tensor("logits", logits, dtype_kind="float")
    check_tensor("targets", targets, dtype_kind="int")
    if logits.ndim < 1 or targets.shape != logits.shape[:-1] or not targets.numel():
        raise ValueError(f"targets must have shape logits.shape[:-1] = "
                         f"{tuple(logits.shape[:-1])} and hold at least one id, got "
                         f"{tuple(targets.shape)}")
    return (logits.argmax(dim=-1) == targets).float().mean()


__all__ = ["Batch", "BatchFn", "Batches", "Metric", "RunningMeans", "accuracy", "check_data",
           "check_metrics",
           "count_parameters", "evaluate", "learning_rate", "make_optimizer", "precision_policy",
           "train", "train_val_split", "use_autocast"]
