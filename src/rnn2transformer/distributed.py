"""Data parallelism: :func:`rnn2transformer.train` under ``torchrun``, unchanged.

When a process group is initialised (``torchrun`` starts one process per device and
:func:`train` calls :func:`setup` for it), the training loop

* wraps the model in :class:`torch.nn.parallel.DistributedDataParallel`: every rank holds an
  equal replica, and after each backward pass the gradients are averaged across ranks;
* gives each rank its share of every global batch: ``batch_size`` is the *global* batch, the
  epoch's seeded permutation is the same on every rank, and rank ``r`` takes the ``r``-th of
  ``world`` equal slices of each batch (:func:`share_of_batch`); a batch function draws on each
  rank from its own generator stream derived from the seed (:func:`rank_seed`);
* evaluates, calls back and writes checkpoints on rank 0 only, and sends rank 0's history row
  to every rank, so all ranks return the same history and stop at the same step.

A single process (no process group) takes none of these paths.

:mod:`.torchrun_example` is a chapter-sized run of it, which ``make torchrun`` launches on two
CPU processes (the appendix "Training on more than one machine" shows its result).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .device import as_device


@dataclass(frozen=True)
class World:
    """Where this process stands: its rank, how many ranks train, its device index."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world() -> World:
    """The current process group's rank and size (rank 0 of 1 when there is none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def launched_by_torchrun() -> bool:
    """True in a process that ``torchrun`` started (it sets these variables for each rank)."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR"))


def setup(device: torch.device | None = None) -> World:
    """Join the process group ``torchrun`` prepared, if this process is one of its ranks and has
    not joined yet: NCCL for CUDA devices, gloo otherwise. Returns :func:`world`."""
    if launched_by_torchrun() and not dist.is_initialized():
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend)
    return world()


def place(model: nn.Module, device: torch.device | str | None, batch_size: int,
          train_data: object) -> tuple[torch.device, nn.Module]:
    """Where this process trains ``model``: join ``torchrun``'s process group if this process
    is one of its ranks (:func:`setup`), choose the device (one GPU per rank), check that the
    ranks can share the global batch, and move the model there. Returns the device and the
    module that trains: the model itself, or its data-parallel wrapper."""
    device = as_device(device)
    here = setup(device)  # rank 0 of 1 unless torchrun started this process
    if here.distributed:
        if device.type == "cuda" and device.index is None:  # one device per process
            device = torch.device("cuda", here.local_rank)
        check_split(batch_size, None if callable(train_data) else len(train_data[0]), here.size)
    model.to(device)
    return device, wrap(model, device) if here.distributed else model


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s batch generator: ``seed`` itself on rank 0 (so one process
    draws what it always drew), and for other ranks a stream NumPy's ``SeedSequence`` derives
    from ``(seed, rank)``, independent of every other seed's streams."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence(seed, spawn_key=(rank,)).generate_state(1, np.uint64)[0]
               >> 1)


def share_of_batch(n: int, world_size: int, rank: int) -> slice:
    """Rank ``rank``'s slice of a batch of ``n`` examples split into ``world_size`` parts whose
    sizes differ by at most one (the last batch of an epoch may not divide evenly)."""
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


def check_split(batch_size: int, n_examples: int | None, world_size: int) -> None:
    """Refuse a global batch that the ranks cannot share: every rank needs examples in every
    batch, so the batch (and the last, shorter batch of an epoch) must divide evenly."""
    if batch_size % world_size:
        raise ValueError(
            f"batch_size is the global batch and must be divisible by the world size: got "
            f"batch_size={batch_size} for {world_size} processes"
        )
    if n_examples is not None and (n_examples % batch_size) % world_size:
        raise ValueError(
            f"the last batch of each epoch has {n_examples % batch_size} examples "
            f"({n_examples} examples, batch_size={batch_size}), which {world_size} processes "
            "cannot share evenly; choose a batch_size that leaves a divisible remainder"
        )


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` wrapped for data parallelism (the wrapper shares its parameters)."""
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """The mean of a tensor over every rank (in place; a no-op for a single process)."""
    if world().distributed:
        dist.all_reduce(value)
        value /= world().size
    return value


def from_main(obj):
    """``obj`` as rank 0 has it, on every rank (a no-op for a single process)."""
    if not world().distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_to_main(obj) -> list | None:
    """Every rank's ``obj`` as a list on rank 0 (None on the others)."""
    if not world().distributed:
        return [obj]
    boxes = [None] * world().size if world().is_main else None
    dist.gather_object(obj, boxes, dst=0)
    return boxes


def fingerprint(model: nn.Module) -> str:
    """A short hash of ``model``'s weights: equal on two ranks exactly when the bytes are."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
