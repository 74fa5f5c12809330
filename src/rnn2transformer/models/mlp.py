"""Multilayer perceptrons, and how gradients travel back through them (chapter 1).

A hidden layer computes ``h_l = f(z_l)`` with ``z_l = W_l h_{l-1} + b_l``. Back-propagation
sends ``delta_l = dL/dz_l`` backwards:

    delta_l = f'(z_l) * (W_{l+1}^T delta_{l+1})

so each layer multiplies the signal by at most ``max|f'| * sigma_max(W_{l+1})``. For the
sigmoid, ``max f' = 1/4``; that is why deep sigmoid networks learn slowly in their first layers
(Glorot and Bengio, 2010), and why ReLU with He initialisation (He et al., 2015) helps.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_int, check_tensor
from .shared import evaluating, task_loss

ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
INITS = ("default", "xavier", "he")


@dataclass
class MLPConfig:
    input_size: int = 2  # features per example
    hidden_size: int = 64  # width of every hidden layer
    n_layers: int = 2  # number of hidden layers
    output_size: int = 2  # classes
    activation: str = "relu"  # sigmoid, tanh or relu
    init: str = "default"  # default (PyTorch's), xavier (Glorot) or he (Kaiming)

    def __post_init__(self) -> None:
        check_int("input_size", self.input_size, minimum=1)
        check_int("hidden_size", self.hidden_size, minimum=1)
        check_int("n_layers", self.n_layers, minimum=1)
        check_int("output_size", self.output_size, minimum=2)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("init", self.init, INITS)


class MLP(nn.Module):
    """``n_layers`` hidden layers of ``hidden_size`` units and a linear classifier on top."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        if not isinstance(config, MLPConfig):
            raise TypeError(f"config must be an MLPConfig, got {type(config).__name__}")
        self.config = config
        sizes = [config.input_size] + [config.hidden_size] * config.n_layers
        self.hidden = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.head = nn.Linear(config.hidden_size, config.output_size)
        self.f = ACTIVATIONS[config.activation]
        for layer in self.hidden:
            if config.init == "xavier":
                nn.init.xavier_normal_(layer.weight)
                nn.init.zeros_(layer.bias)
            elif config.init == "he":
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
            # "default" keeps nn.Linear's own init: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))

    def preactivations(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and every hidden layer's ``z_l``, kept for gradient probes."""
        zs = []
        h = x  # (B, C_in)
        for layer in self.hidden:
            z = layer(h)  # z_l = W_l h_{l-1} + b_l          (B, hidden_size)
            zs.append(z)
            h = self.f(z)  # h_l = f(z_l)
        return self.head(h), zs  # (B, output_size)

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        check_tensor("x", x, ndim=2, dtype_kind="float")
        if x.shape[1] != self.config.input_size:
            raise ValueError(
                f"x must have shape (B, {self.config.input_size}), got {tuple(x.shape)}"
            )
        logits, _ = self.preactivations(x)
        loss = None if targets is None else task_loss(logits, targets, "cross_entropy")
        return logits, loss


def gradient_by_layer(model: MLP, x: torch.Tensor, targets: torch.Tensor) -> pd.DataFrame:
    """Per hidden layer: the weight-gradient norm, the back-propagated signal and its bound.

    Columns: ``layer`` (1 = nearest the input), ``weight_grad_norm`` = ||dL/dW_l||_F,
    ``delta_norm`` = mean over examples of ||dL/dz_l||, ``sigma_max`` = largest singular
    value of ``W_l``, and ``step_bound`` = ``max|f'| * sigma_max(W_{l+1})``, the most one
    step back from layer ``l+1`` to ``l`` can multiply ``||delta||`` (NaN for the last layer).
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an MLP, got {type(model).__name__}")
    check_tensor("targets", targets, ndim=1, dtype_kind="int")
    logits, zs = model.preactivations(x)
    loss = F.cross_entropy(logits, targets, reduction="sum")  # per-example deltas stay exact
    weights = [layer.weight for layer in model.hidden]
    grads = torch.autograd.grad(loss, zs + weights)
    deltas, weight_grads = grads[: len(zs)], grads[len(zs) :]
    max_slope = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0}[model.config.activation]
    rows = []
    for i, (delta, w_grad, w) in enumerate(zip(deltas, weight_grads, weights, strict=True)):
        next_w = weights[i + 1] if i + 1 < len(weights) else None
        rows.append(
            {
                "layer": i + 1,
                "weight_grad_norm": w_grad.norm().item() / len(x),
                "delta_norm": delta.norm(dim=1).mean().item(),
                "sigma_max": torch.linalg.matrix_norm(w.detach(), ord=2).item(),
                "step_bound": (
                    max_slope * torch.linalg.matrix_norm(next_w.detach(), ord=2).item()
                    if next_w is not None
                    else float("nan")
                ),
            }
        )
    return pd.DataFrame(rows)


def delta_ratios(model: MLP, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per example and layer, ``||delta_l|| / ||delta_{l+1}||``: shape (B, n_layers - 1)."""
    logits, zs = model.preactivations(x)
    loss = F.cross_entropy(logits, targets, reduction="sum")
    deltas = torch.autograd.grad(loss, zs)
    norms = torch.stack([d.norm(dim=1) for d in deltas], dim=1)  # (B, L)
    return norms[:, :-1] / norms[:, 1:]


@torch.no_grad()
def predict_grid(
    model: nn.Module, *, extent: float = 1.3, resolution: int = 40, positive_class: int = 1
) -> pd.DataFrame:
    """Class probability of ``model`` on a square grid: the data of a decision-boundary plot."""
    check_int("resolution", resolution, minimum=2)
    axis = torch.linspace(-extent, extent, resolution)
    g1, g2 = torch.meshgrid(axis, axis, indexing="xy")
    points = torch.stack([g1.reshape(-1), g2.reshape(-1)], dim=1)  # (R*R, 2)
    device = next(model.parameters()).device
    with evaluating(model):
        logits, _ = model(points.to(device))
    p = torch.softmax(logits.float(), dim=-1)[:, positive_class].cpu()
    return pd.DataFrame({"x1": points[:, 0], "x2": points[:, 1], "p": p})
