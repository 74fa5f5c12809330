"""Transfer learning: reuse a pretrained body, freeze what should not change, swap the head (ch. 8).

The book's models (:class:`~rnn2transformer.models.mlp.MLP`,
:class:`~rnn2transformer.models.recurrent.RecurrentModel`,
:class:`~rnn2transformer.models.transformer.TransformerModel`) share a layout: an input part,
a body, a ``head``, and a config whose ``output_size`` is the head's width. :func:`stages` lists a
model's parts from input to output, so "freeze the first k" has one meaning for every family;
:func:`freeze` also takes parameter-name prefixes, and :func:`freeze_part` names the three
settings chapter 8 compares (nothing, the lower half, everything but the head).
:func:`pretrained` trains a model once and caches its weights (always produced by this code,
never downloaded); a missing or unreadable cache is retrained with a message.

Chapter 8's task asks which of two character spans is in its original word order.
:class:`LikelihoodScorer` answers with a language model's own loss (zero-shot, and the
starting point of fine-tuning), :func:`train_to_fit` trains until the training set is fitted,
and :func:`with_dropout` adds dropout to a model that has none.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_choice, check_float, check_int, check_tensor
from .settings import cache_dir
from .training import accuracy, train


def stages(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's parts in order from input to output, as ``(name, module)`` pairs."""
    from .models.mlp import MLP
    from .models.recurrent import RecurrentModel
    from .models.transformer import TransformerModel

    if isinstance(model, MLP):
        return [(f"hidden.{i}", layer) for i, layer in enumerate(model.hidden)] + [
            ("head", model.head)]
    if isinstance(model, TransformerModel):
        parts = [("embed", model.embed)]
        if model.position is not None:
            parts.append(("position", model.position))
        parts += [(f"blocks.{i}", block) for i, block in enumerate(model.blocks)]
        return parts + [("norm", model.norm), ("head", model.head)]
    if isinstance(model, RecurrentModel):
        parts = [("embed", model.embed)] if model.embed is not None else []
        return parts + [("rnn", model.rnn), ("head", model.head)]
    raise TypeError(
        f"expected an MLP, RecurrentModel or TransformerModel, got {type(model).__name__}"
    )


def freeze(
    model: nn.Module, *, prefixes: Iterable[str] | None = None, depth: int | None = None
) -> list[str]:
    """Stop gradients for some parameters; return the names of the frozen ones.

    ``prefixes``: freeze every parameter whose name starts with one of them (``"blocks.0"``).
    ``depth``: freeze the first ``depth`` parts listed by :func:`stages`.
    Give exactly one. Everything else is left as it was.
    """
    if (prefixes is None) == (depth is None):
        raise ValueError(f"give exactly one of prefixes or depth, got {prefixes=}, {depth=}")
    if depth is not None:
        parts = stages(model)
        check_int("depth", depth, minimum=0)
        if depth > len(parts):
            raise ValueError(f"depth must be at most {len(parts)} (the model's parts), got {depth}")
        prefixes = [name for name, _ in parts[:depth]]
    if isinstance(prefixes, str):
        raise TypeError(f"prefixes must be a list of names, got the str {prefixes!r} (write "
                        f"[{prefixes!r}])")
    prefixes = list(prefixes)
    names = [name for name, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(n == prefix or n.startswith(prefix + ".") for n in names):
            raise ValueError(f"no parameter name starts with {prefix!r}; names are {names}")
    frozen = []
    for name, p in model.named_parameters():
        if any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes):
            p.requires_grad_(False)
            frozen.append(name)
    return frozen


def unfreeze(model: nn.Module) -> None:
    """Make every parameter trainable again."""
    for p in model.parameters():
        p.requires_grad_(True)


def swap_head(
    model: nn.Module, output_size: int, *, hidden: int | None = None, **config_changes: object
) -> nn.Module:
    """Replace ``model.head`` by a fresh one with ``output_size`` outputs; return the model.

    The new head is linear, or with ``hidden`` a two-layer MLP (a frozen body's features need
    not be linearly separable for the new task). ``config_changes`` update the model's config,
    e.g. ``readout="mean", loss="cross_entropy"``. The body's weights are kept.
    """
    check_int("output_size", output_size, minimum=1)
    old = getattr(model, "head", None)
    first = old if isinstance(old, nn.Linear) else (old[0] if isinstance(old, nn.Sequential)
                                                     else None)
    if not isinstance(first, nn.Linear):
        raise TypeError("model must have a `head` that is linear or a Sequential starting so")
    width, device = first.in_features, first.weight.device
    model.config = dataclasses.replace(model.config, output_size=output_size, **config_changes)
    if hidden is None:
        model.head = nn.Linear(width, output_size)
    else:
        check_int("hidden", hidden, minimum=1)
        model.head = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(),
                                   nn.Linear(hidden, output_size))
    model.head.to(device)
    return model


def trainable_table(model: nn.Module) -> pd.DataFrame:
    """Per part of the model: parameters, and how many of them are trainable."""
    rows = []
    for name, module in stages(model):
        params = list(module.parameters())
        rows.append({"part": name, "parameters": sum(p.numel() for p in params),
                     "trainable": sum(p.numel() for p in params if p.requires_grad)})
    return pd.DataFrame(rows)


def pretrained(
    name: str, build: Callable[[], nn.Module], **train_kwargs: object
) -> tuple[nn.Module, pd.DataFrame]:
    """Build a model and train it with :func:`~rnn2transformer.train`, cached under ``name``.

    The cache is the training checkpoint itself, so a finished run loads at once; a missing
    file trains from scratch, and an unreadable one or one from other settings is reported and
    retrained (see :func:`~rnn2transformer.train`).
    """
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"name must be letters, digits, '-' or '_', got {name!r}")
    model = build()
    path = cache_dir() / f"{name}.pt"
    history = train(model, checkpoint=path, **train_kwargs)
    return model, history


PARTS = ("none", "lower half", "body")


def freeze_part(model: nn.Module, part: str) -> list[str]:
    """Freeze one of the parts chapter 8 compares; return the frozen parameters' names.

    ``"none"``: nothing (full fine-tuning); ``"body"``: everything but the head (train only
    the head); ``"lower half"``: the first half, rounded up, of the parts below the head
    (:func:`stages`): a Transformer's embedding and first block of two, a one-layer LSTM's
    embedding.
    """
    check_choice("part", part, PARTS)
    below_head = len(stages(model)) - 1
    depth = {"none": 0, "lower half": math.ceil(below_head / 2), "body": below_head}[part]
    return freeze(model, depth=depth) if depth else []


class LikelihoodScorer(nn.Module):
    """Which of two character sequences is the original? A language model's own answer.

    Wraps a character language model ``model`` (``forward(x) -> (logits (B, T, V), _)``,
    readout ``"all"``). A sequence ``x_0 x_1 ... x_T`` (``x_0`` a context character, the rest
    the text, then ``pad`` to the common length) scores its log-probability under the model,
    ``log p(x_1..x_T | x_0) = sum_t log p(x_t | x_<t)`` over the positions that are not
    ``pad``. For a batch of pairs ``x`` (B, 2, T+1) the logits are the two scores (B, 2), and
    the loss is the cross-entropy of the index of the original (``targets``, (B,)): a pairwise
    softmax, so training moves the model to find the original more probable than its
    shuffle. Untrained, it is the zero-shot answer: the more probable sequence.
    ``forward(x, targets=None) -> (logits, loss)``.
    """

    def __init__(self, model: nn.Module, *, pad: int) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.pad = check_int("pad", pad, minimum=0)

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        check_tensor("x", x, ndim=3, dtype_kind="int")
        B, K, T = x.shape
        if T < 2:
            raise ValueError(f"x needs a context character and at least one more, got T={T}")
        seqs = x.reshape(B * K, T)  # (BK, T)
        logits, _ = self.model(seqs[:, :-1])  # (BK, T-1, V): the next character's scores
        nexts = seqs[:, 1:]  # (BK, T-1)
        # log p(x_t | x_<t) at every position, 0 where the next character is padding
        log_p = -F.cross_entropy(logits.float().transpose(1, 2), nexts, reduction="none")
        scores = log_p.masked_fill(nexts == self.pad, 0.0).sum(dim=1).reshape(B, K)  # (B, K)
        loss = None if targets is None else F.cross_entropy(scores, targets)
        return scores, loss


def train_to_fit(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], *, max_steps: int,
                 target: float = 0.99, patience: int = 5, eval_every: int | None = None,
                 **train_kwargs: object) -> pd.DataFrame:
    """Train ``model`` on ``data`` until its accuracy on that same data saturates: it reaches
    ``target``, or it rose by less than one point over the last ``patience`` evaluations, or
    ``max_steps`` steps are done. A model that stopped before it fitted its training set has
    not shown what it can learn from it, so the training accuracy is what to report beside the
    validation accuracy. The accuracy is measured in evaluation mode (no dropout) every
    ``eval_every`` steps (default: once an epoch, at least every 10 steps). Returns
    :func:`~rnn2transformer.train`'s history, whose ``accuracy`` column is the training
    accuracy; ``train_kwargs`` go to ``train`` (``lr``, ``batch_size``, ``weight_decay``,
    ``seed``, ...; ``progress`` is off unless asked for: an experiment runs many short fits)."""
    check_float("target", target, minimum=0.0, maximum=1.0, strict_minimum=True)
    check_int("max_steps", max_steps, minimum=1)
    check_int("patience", patience, minimum=1)
    if eval_every is None:
        batch_size = check_int("batch_size", train_kwargs.get("batch_size", 64), minimum=1)
        eval_every = max(10, math.ceil(len(data[0]) / batch_size))
    seen: list[float] = []

    def saturated(row: dict[str, float]) -> bool:
        seen.append(row["accuracy"])
        stalled = len(seen) > patience and seen[-1] - seen[-1 - patience] < 0.01
        return row["accuracy"] >= target or stalled

    train_kwargs.setdefault("progress", False)
    return train(model, data, val_data=data, steps=max_steps, eval_every=eval_every,
                 metrics={"accuracy": accuracy}, stop_when=saturated, **train_kwargs)


def with_dropout(model: nn.Module, p: float) -> nn.Module:
    """Add dropout with probability ``p`` to a model that has ``embed`` and ``head`` parts
    (the book's recurrent and Transformer models): on the embedded characters (the body's
    inputs) and on the states the head reads. In training each of those numbers is zeroed
    with probability ``p`` and the rest scaled by ``1 / (1 - p)``; in evaluation mode dropout
    does nothing. The parameters and their names under ``embed`` and ``head`` stay as they
    were but for a ``.0`` or ``.1`` (so :func:`stages` and :func:`freeze` still find them).
    Returns the model."""
    check_float("p", p, minimum=0.0, maximum=1.0)
    if not (isinstance(getattr(model, "embed", None), nn.Module)
            and isinstance(getattr(model, "head", None), nn.Module)):
        raise TypeError(f"model must have `embed` and `head` modules, got "
                        f"{type(model).__name__}")
    model.embed = nn.Sequential(model.embed, nn.Dropout(p))
    model.head = nn.Sequential(nn.Dropout(p), model.head)
    return model
