"""Transfer learning: reuse a pretrained body, freeze what should not change, swap the head (ch. 8).

The book's models (:class:`~rnn2transformer.models.mlp.MLP`,
:class:`~rnn2transformer.models.recurrent.RecurrentModel`,
:class:`~rnn2transformer.models.transformer.TransformerModel`) share a layout: an input part,
a body, a ``head``, and a config whose ``output_size`` is the head's width. :func:`stages` lists a
model's parts from input to output, so "freeze the first k" has one meaning for every family;
:func:`freeze` also takes parameter-name prefixes.
:func:`pretrained` trains a model once and caches its weights (always produced by this code,
never downloaded); a missing or unreadable cache is retrained with a message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import pandas as pd
from torch import nn

from ._checks import check_int
from .settings import cache_dir  # noqa: F401 (chapter 8 shows where weights are cached)
from .training import train


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
