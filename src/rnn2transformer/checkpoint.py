"""Resumable training: the file :func:`rnn2transformer.train` saves a run to and resumes it from.

A checkpoint holds everything the rest of a run depends on: the model, the optimizer, every
random-number state (the batch generator's, torch's, CUDA's), the running sums of the loss
since the last evaluation, the history and the elapsed time. So an interrupted run started
again with the same arguments ends with exactly the weights an uninterrupted one would have
(tested). Under ``torchrun`` rank 0 writes the file with every rank's random states and sums,
and each rank resumes its own.

A checkpoint is used only by a run with the same settings (its *fingerprint*: every field of
:class:`rnn2transformer.training.RunSettings`, the precision, the model's architecture, the
number of ranks); a file that cannot be read, or was written by other settings, is reported
and the run starts afresh.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import distributed

# Bumped when what a checkpoint holds changes, so an older file is retrained, not misread.
FORMAT = 4  # 4: the fingerprint is every field of training.RunSettings, and the precision


def fingerprint(model: nn.Module, **settings: Any) -> dict:
    """What must match for a checkpoint to be resumed: ``settings`` (:func:`~rnn2transformer.
    training.train` passes every field of its resolved ``RunSettings`` and the precision), the
    model's size and architecture, the number of ranks."""
    return {
        "format": FORMAT,
        **settings,
        "n_params": sum(p.numel() for p in model.parameters()),
        "architecture": repr(model),  # layer types and sizes, so a changed model retrains
        "world_size": distributed.world().size,  # each rank's batches depend on it
    }


class Checkpoint:
    """The checkpoint file of one run, saved every ``every`` steps and at the end."""

    def __init__(self, path: str | Path, fingerprint: dict, *, every: int):
        self.path, self.fingerprint, self.every = Path(path), fingerprint, every

    def load(self) -> dict | None:
        """The saved state, or None (with a warning if a file was there) to start afresh."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
            if not isinstance(state, dict) or "model" not in state:
                raise ValueError("not a training checkpoint")
        except Exception as error:  # a half-written or foreign file: retrain, say so
            warnings.warn(f"checkpoint {self.path} could not be read ({type(error).__name__}: "
                          f"{error}); training from scratch", stacklevel=3)
            return None
        if state.get("fingerprint") != self.fingerprint:
            warnings.warn(f"checkpoint {self.path} was written by a run with other settings "
                          f"({state.get('fingerprint')} != {self.fingerprint}); training from "
                          "scratch", stacklevel=3)
            return None
        return state

    def resume(self, model: nn.Module, optimizer: torch.optim.Optimizer, ranks: RankState
               ) -> tuple[list[dict], int, float]:
        """Load the saved run into ``model``, ``optimizer`` and this rank's ``ranks``; return
        its history, the steps it had done and its seconds so far (``[], 0, 0.0`` if none)."""
        state = self.load()
        if state is None:
            return [], 0, 0.0
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        ranks.load(state["ranks"][distributed.world().rank])
        return state["history"], state["step"], state["elapsed_s"]

    def due(self, step: int, total_steps: int) -> bool:
        """Whether to save after ``step`` steps."""
        return step == total_steps or step % self.every == 0

    def save(self, model: nn.Module, optimizer: torch.optim.Optimizer, ranks: RankState, *,
             step: int, history: list[dict], elapsed_s: float) -> None:
        """Write the run as it is after ``step`` steps (atomically: a crash mid-write leaves
        the previous file)."""
        every_rank = distributed.gather_to_main(ranks.state())
        if not distributed.world().is_main:
            return
        state = {"fingerprint": self.fingerprint, "model": model.state_dict(),
                 "optimizer": optimizer.state_dict(), "ranks": every_rank, "step": step,
                 "history": history, "elapsed_s": elapsed_s}
        # A temporary file of this writer's own: two processes that train the same run into
        # one cache folder (two notebooks launched at once) must not replace each other's.
        # Named, not made by mkstemp, so the checkpoint keeps the umask's permissions (a
        # shared cache stays readable), where mkstemp's file would be the owner's only.
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        try:
            torch.save(state, tmp)
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


class RankState:
    """What differs between ranks and must survive a restart: the batch generator's state,
    torch's (and CUDA's) random state, and the running means since the last evaluation
    (anything with ``state()`` and ``load(state)``)."""

    def __init__(self, generator: torch.Generator, means: Any, device: torch.device):
        self.generator, self.means, self.device = generator, means, device

    def state(self) -> dict:
        cuda = self.device.type == "cuda"
        return {"data_rng": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(self.device) if cuda else None,
                "means": self.means.state()}

    def load(self, state: dict) -> None:
        self.generator.set_state(state["data_rng"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.means.load(state["means"])
