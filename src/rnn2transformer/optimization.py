"""Chapter 1's optimisation experiments: what an optimiser does with a stream of gradients, and
the bar a classifier of two-dimensional points must pass to have learned a curved boundary.

* :func:`optimizer_path` hands one parameter tensor a sequence of gradients and records it after
  every step of the optimiser :func:`~rnn2transformer.train` would build (the same
  :func:`~rnn2transformer.training.make_optimizer`): the reference an implementation of
  momentum or AdamW, written by hand, is checked against.
* :func:`line_baseline` fits the best straight line (multinomial logistic regression, to
  convergence) and scores it on held-out points: a network that does no better than it has
  not learned anything a line could not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import check_float, check_int, check_tensor
from .training import OPTIMIZERS, Batch, check_data, make_optimizer


def optimizer_path(name: str, start: torch.Tensor, grads: torch.Tensor, *, lr: float,
                   momentum: float = 0.9, weight_decay: float = 0.0) -> torch.Tensor:
    """The parameter after each step of optimiser ``name`` (one of ``train``'s: adam, adamw,
    sgd, rmsprop), started at ``start`` and handed ``grads[0]``, ``grads[1]``, ... as its
    gradients: shape ``(T, *start.shape)`` for ``grads`` of shape ``(T, *start.shape)``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"name must be one of {list(OPTIMIZERS)}, got {name!r}")
    check_tensor("start", start, dtype_kind="float")
    check_tensor("grads", grads, dtype_kind="float")
    if grads.ndim != start.ndim + 1 or grads.shape[1:] != start.shape:
        raise ValueError(f"grads must have shape (T, {', '.join(map(str, start.shape))}) for a "
                         f"start of shape {tuple(start.shape)}, got {tuple(grads.shape)}")
    check_float("lr", lr, minimum=0.0, strict_minimum=True)
    check_float("weight_decay", weight_decay, minimum=0.0)
    parameter = torch.nn.Parameter(start.detach().clone())
    optimizer = make_optimizer(name, [parameter], lr=lr, momentum=momentum,
                               weight_decay=weight_decay)
    path = []
    for grad in grads:
        parameter.grad = grad.detach().clone().to(parameter.dtype)
        optimizer.step()
        path.append(parameter.detach().clone())
    return torch.stack(path)  # (T, *start.shape)


def line_baseline(train_data: Batch, val_data: Batch, *, iterations: int = 200) -> dict:
    """The best straight line for ``train_data`` (points ``(N, C)``, class ids ``(N,)``):
    multinomial logistic regression, fitted in float64 by L-BFGS from zero weights (so the
    result is deterministic), scored on ``val_data``. Returns its validation ``accuracy``
    (a share) and ``loss`` (mean cross-entropy, nats)."""
    check_data("train_data", train_data)
    check_data("val_data", val_data)
    check_int("iterations", iterations, minimum=1)
    (x, y), (x_val, y_val) = train_data, val_data
    check_tensor("train_data's points", x, ndim=2, dtype_kind="float")
    check_tensor("train_data's classes", y, ndim=1, dtype_kind="int")
    x, x_val = x.double(), x_val.double()
    n_classes = int(max(y.max(), y_val.max())) + 1
    weight = torch.zeros(x.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    fit = torch.optim.LBFGS([weight, bias], max_iter=iterations, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        fit.zero_grad()
        loss = F.cross_entropy(x @ weight + bias, y)  # (N, K) logits
        loss.backward()
        return loss

    fit.step(closure)
    with torch.no_grad():
        logits = x_val @ weight + bias
        return {"accuracy": (logits.argmax(dim=1) == y_val).double().mean().item(),
                "loss": F.cross_entropy(logits, y_val).item()}


__all__ = ["line_baseline", "optimizer_path"]
