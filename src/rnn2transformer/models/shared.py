"""What every model family shares: the task loss, the readout, a parameter count, the weight
copies behind the parity tests, and evaluating a model with its training mode restored
afterwards.

The models are the package's bottom floor beside the data: this file imports only torch, so
``rnn2transformer.models`` can be used without the training loop or the book.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_int


def task_loss(out: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    """The loss the book's task models share: ``"mse"`` or ``"cross_entropy"`` over the last
    dimension of ``out``. Computed in at least float32, also when ``out`` came from bf16."""
    pred = out if out.dtype == torch.float64 else out.float()
    if kind == "mse":
        if targets.shape != pred.shape:  # broadcasting would average a B x B grid of errors
            raise ValueError(f"targets must have the output's shape {tuple(pred.shape)}, got "
                             f"{tuple(targets.shape)}")
        return F.mse_loss(pred, targets.to(pred.dtype))
    if kind == "cross_entropy":
        if targets.numel() * pred.shape[-1] != pred.numel():
            raise ValueError(f"targets must hold one class id per output row, shape "
                             f"{tuple(pred.shape[:-1])}, got {tuple(targets.shape)}")
        return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), targets.reshape(-1))
    raise ValueError(f"kind must be 'mse' or 'cross_entropy', got {kind!r}")

def readout(states: torch.Tensor, head: nn.Module, targets: torch.Tensor | None,
            config: object) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The tail every task model shares: pool the states (B, T, d) as ``config.readout`` says
    (``"all"``: one prediction per step; ``"last"``: from the last step; ``"mean"``: from
    their mean), apply ``head``, and compute ``config.loss`` when ``targets`` are given.
    Returns ``(out, loss)``; ``out`` drops its last dimension for a single regression output."""
    if config.readout == "last":
        states = states[:, -1]  # (B, d)
    elif config.readout == "mean":
        states = states.mean(dim=1)  # (B, d)
    out = head(states)  # (B, [T,] output_size)
    if config.output_size == 1 and config.loss == "mse":
        out = out.squeeze(-1)
    return out, (None if targets is None else task_loss(out, targets, config.loss))


def through_layers(blocks: nn.ModuleList, h: torch.Tensor, states: list | None, *,
                   name: str = "state", entry: str = "entry") -> tuple[torch.Tensor, list]:
    """``h`` through ``blocks``, each block with its own entry of ``states`` (None: every layer
    starts empty), as every stack that carries something from call to call does (a KV cache, a
    recurrent state); returns the output and each layer's new entry. ``name`` and ``entry`` word
    the error when ``states`` does not hold one entry per layer."""
    if states is not None and len(states) != len(blocks):
        raise ValueError(f"{name} must hold one {entry} per layer ({len(blocks)}), got "
                         f"{len(states)}")
    new = []
    for i, block in enumerate(blocks):
        h, carried = block(h, None if states is None else states[i])
        new.append(carried)
    return h, new


def copy_parameters(source: dict[str, torch.Tensor | None],
                    target: dict[str, torch.Tensor | None]) -> None:
    """Copy each named tensor of ``source`` into the tensor of the same name in ``target``: the
    weight copies behind the parity tests, between a scratch module and its torch counterpart.
    A bias on one side only, or shapes that differ, fail naming the tensor."""
    with torch.no_grad():
        for name, src in source.items():
            dst = target[name]
            if (src is None) != (dst is None):
                raise ValueError(f"{name}: one module has biases and the other does not")
            if src is None:
                continue
            if src.shape != dst.shape:
                raise ValueError(f"{name}: shapes differ, {tuple(src.shape)} vs "
                                 f"{tuple(dst.shape)}")
            dst.copy_(src)


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (only those with ``requires_grad`` if asked)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """``with evaluating(model):`` runs its body with ``model`` in evaluation mode (dropout off)
    and gives the model back in the mode it had, training or not."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def check_config(config: object) -> None:
    """Refuse a config whose sizes cannot build a model, naming the field: every whole-number
    field at least 1, a vocabulary of at least 2 tokens, and a width ``d_model`` that the
    heads ``n_heads`` share evenly. A config with more to check adds it after this call."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.type in ("int", int):
            check_int(field.name, value, minimum=2 if field.name.endswith("vocab_size") else 1)
    d_model, n_heads = getattr(config, "d_model", None), getattr(config, "n_heads", None)
    if d_model is not None and n_heads is not None and d_model % n_heads:
        raise ValueError(f"d_model must be divisible by n_heads, got d_model={d_model} and "
                         f"n_heads={n_heads}")
