"""Vanilla recurrent networks, written out, and the tools to watch their gradients (chapter 3).

The recurrence (Elman, 1990) with the book's symbols, batch-first:

    h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

``RNNCell``/``RNN`` are the teaching versions, a plain Python loop over time whose parameters
have the same names and shapes as ``torch.nn.RNN`` (so weights copy across both ways with
:func:`rnn2transformer.models.recurrent.copy_weights`, and the two give the same outputs and
gradients; tests check). :class:`rnn2transformer.models.recurrent.RecurrentModel` trains with
the fused ``torch.nn.RNN`` by default and can swap in the scratch layer.

Back-propagation through time multiplies by ``dh_t/dh_{t-1} = diag(f'(.)) W_hh`` once per step;
over ``k`` steps the product decides whether gradients vanish or explode (Bengio, Simard and
Frasconi, 1994; Pascanu, Mikolov and Bengio, 2013). :func:`spectral_matrix`,
:func:`matrix_with_eigenvalues` and :func:`gradient_probe` let the chapter set the eigenvalues
and measure the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn

from .._checks import check_choice, check_float, check_int, check_tensor

NONLINEARITIES = {
    "linear": lambda z: z,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
}
# gamma: the largest slope of the nonlinearity, the constant in Pascanu et al.'s conditions.
MAX_SLOPE = {"linear": 1.0, "tanh": 1.0, "relu": 1.0, "sigmoid": 0.25}


class RecurrentWeights(nn.Module):
    """The weights of every recurrent cell in the package, named, shaped and initialised as
    PyTorch's fused layers store them: ``blocks`` stacked blocks (1 for the vanilla RNN, 4 gates
    for the LSTM, 3 for the GRU) of ``weight_ih`` (H, C), ``weight_hh`` (H, H) and the biases
    ``bias_ih``, ``bias_hh`` (H,), each drawn from U(-1/sqrt(H), 1/sqrt(H))."""

    def __init__(self, input_size: int, hidden_size: int, blocks: int) -> None:
        super().__init__()
        check_int("input_size", input_size, minimum=1)
        check_int("hidden_size", hidden_size, minimum=1)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(blocks * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(blocks * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(blocks * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(blocks * hidden_size))
        bound = 1 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)


def check_sequence(x: torch.Tensor, input_size: int) -> tuple[int, int, int]:
    """``x``'s shape (B, T, C), after checking that it is a float batch of sequences of
    ``input_size`` features, as every recurrent layer of the package reads."""
    check_tensor("x", x, ndim=3, dtype_kind="float")
    if x.shape[-1] != input_size or x.shape[1] == 0:
        raise ValueError(f"x must have shape (B, T, {input_size}) with T >= 1, got "
                         f"{tuple(x.shape)}")
    return tuple(x.shape)


def initial_state(x: torch.Tensor, state, hidden_size: int, *, pair: bool = False):
    """Where a recurrent layer over ``x`` (B, T, C) starts: zeros (B, hidden_size) when
    ``state`` is None (a pair of them, (h, c), for the LSTM: ``pair=True``), else ``state``
    after checking that it holds tensors of that shape, as every recurrent layer reads it."""
    B = x.shape[0]
    if state is None:
        zeros = x.new_zeros(B, hidden_size)
        return (zeros, zeros) if pair else zeros
    parts = list(state) if pair and isinstance(state, tuple | list) else [state]
    if len(parts) == (2 if pair else 1) and all(
            isinstance(s, torch.Tensor) and s.shape == (B, hidden_size) for s in parts):
        return state
    wanted = "a pair (h, c) of tensors" if pair else "a tensor"
    raise ValueError(f"state must be {wanted} of shape {(B, hidden_size)}, got "
                     f"{_described(state)}")


def _described(state) -> str:
    """What a wrong ``state`` is, for the message: the shapes in a tuple, else its type."""
    if isinstance(state, tuple | list):
        return str([tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
                    for s in state])
    shape = f" of shape {tuple(state.shape)}" if isinstance(state, torch.Tensor) else ""
    return f"a {type(state).__name__}{shape}"


class RNNCell(RecurrentWeights):
    """One step: ``h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``."""

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh") -> None:
        super().__init__(input_size, hidden_size, blocks=1)
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        self.f = NONLINEARITIES[nonlinearity]

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        h = state  # h_{t-1}, (B, H)
        # h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)             (B, H)
        return self.f(x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh)


class RNN(nn.Module):
    """A loop of :class:`RNNCell` over time. ``forward(x, state=None) -> (out, h_T)``.

    ``x`` is (B, T, C); ``out`` holds every ``h_t``, (B, T, H); ``state`` and ``h_T`` are (B, H).
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh") -> None:
        super().__init__()
        self.cell = RNNCell(input_size, hidden_size, nonlinearity)

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        _, T, _ = check_sequence(x, self.cell.input_size)
        h = initial_state(x, state, self.cell.hidden_size)
        outputs = []
        for t in range(T):  # the for-loop of chapter 2, with learned weights
            h = self.cell(x[:, t], h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h  # (B, T, H), (B, H)


def random_orthogonal(n: int, *, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A random orthogonal n x n matrix (Haar-distributed: QR of a Gaussian, signs fixed)."""
    check_int("n", n, minimum=1)
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    return q.to(dtype)


def spectral_matrix(
    n: int, spectral_radius: float, *, seed: int = 0, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``lambda * Q`` for a random orthogonal ``Q``: every eigenvalue and every singular value
    has absolute value ``spectral_radius``, so ``||W^k||_2 = lambda^k`` exactly."""
    check_float("spectral_radius", spectral_radius, minimum=0.0)
    return spectral_radius * random_orthogonal(n, seed=seed, dtype=dtype)


def matrix_with_eigenvalues(
    eigenvalues: Sequence[complex], *, seed: int = 0, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """A real matrix with the given eigenvalues, in a random orthonormal basis.

    Real eigenvalues become diagonal entries; a complex ``r e^{i theta}`` must come with its
    conjugate and becomes the rotation-and-scaling block ``r [[cos, -sin], [sin, cos]]``.
    """
    values = [complex(v) for v in eigenvalues]
    if not values:
        raise ValueError("eigenvalues must not be empty")
    blocks, i = [], 0
    while i < len(values):
        v = values[i]
        if abs(v.imag) < 1e-12:
            blocks.append(torch.tensor([[v.real]], dtype=torch.float64))
            i += 1
            continue
        if i + 1 >= len(values) or abs(values[i + 1] - v.conjugate()) > 1e-9:
            raise ValueError(
                f"complex eigenvalue {v} must be followed by its conjugate {v.conjugate()}"
            )
        r, theta = abs(v), math.atan2(v.imag, v.real)
        c, s = math.cos(theta), math.sin(theta)
        blocks.append(torch.tensor([[r * c, -r * s], [r * s, r * c]], dtype=torch.float64))
        i += 2
    block = torch.block_diag(*blocks)
    q = random_orthogonal(len(values), seed=seed, dtype=torch.float64)
    return (q @ block @ q.T).to(dtype)


def gradient_probe(layer: RNN, x: torch.Tensor, state: torch.Tensor | None = None) -> pd.DataFrame:
    """Measure by autograd how much the last state and the loss depend on every step.

    For one sequence ``x`` of shape (1, T, C), returns a row per step ``t = 0 .. T-1`` with
    ``distance = T - 1 - t`` and

    * ``jacobian_norm``: the spectral norm of ``dh_{T-1}/dh_t`` (1 at distance 0);
    * ``input_grad_norm``: ``||dL/dx_t||`` for ``L = sum(h_{T-1})``.
    """
    if not isinstance(layer, RNN):
        raise TypeError(
            f"layer must be an rnn2transformer.models.rnn.RNN, got {type(layer).__name__}")
    check_tensor("x", x, ndim=3, dtype_kind="float")
    if x.shape[0] != 1:
        raise ValueError(f"x must hold one sequence, shape (1, T, C), got {tuple(x.shape)}")
    x = x.detach().clone().requires_grad_(True)
    cell = layer.cell
    h = x.new_zeros(1, cell.hidden_size) if state is None else state
    states = []
    for t in range(x.shape[1]):
        h = cell(x[:, t], h)
        states.append(h)
    last = states[-1][0]  # (H,)
    eye = torch.eye(cell.hidden_size, dtype=x.dtype, device=x.device)  # on the layer's device
    # One backward pass per output coordinate, batched: row i of every Jacobian at once.
    grads = torch.autograd.grad(
        last, states, grad_outputs=eye, is_grads_batched=True, retain_graph=True,
        allow_unused=True,
    )
    (input_grad,) = torch.autograd.grad(last.sum(), x)
    rows = []
    T = x.shape[1]
    for t, jac in enumerate(grads):
        jac = jac[:, 0, :] if jac is not None else torch.zeros_like(eye)  # (H, H)
        rows.append({
            "t": t,
            "distance": T - 1 - t,
            "jacobian_norm": torch.linalg.matrix_norm(jac.double(), ord=2).item(),
            "input_grad_norm": input_grad[0, t].norm().item(),
        })
    return pd.DataFrame(rows)


def bptt_weight_gradient(
    layer: RNN, x: torch.Tensor, upstream: torch.Tensor, state: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Back-propagation through time by hand: ``dL/dW_hh`` for a loss whose gradient with
    respect to each state ``h_t`` (from that step's own output) is ``upstream[:, t]``.

    Going backwards from the last step, the gradient reaching ``h_t`` is its own upstream part
    plus what flows back from ``h_{t+1}``: ``g_t = upstream_t + W_hh^T delta_{t+1}``, where
    ``delta_t = f'(z_t) * g_t`` is the gradient at the pre-activation ``z_t``. Each step then
    adds ``delta_t h_{t-1}^T`` to the weight gradient. Unrolled, ``g_t`` is a sum over later
    steps ``s`` of ``upstream_s`` multiplied by the Jacobians ``J_k = diag(f'(z_k)) W_hh`` of
    every step in between: the products of chapter 3's gradient probe.

    ``x`` is (B, T, C), ``upstream`` (B, T, H). Returns the gradient (H, H) and each step's
    contribution to it, ``||delta_t h_{t-1}^T||`` (T,), to see which steps still count.
    """
    if not isinstance(layer, RNN):
        raise TypeError(
            f"layer must be an rnn2transformer.models.rnn.RNN, got {type(layer).__name__}")
    check_tensor("x", x, ndim=3, dtype_kind="float")
    B, T, _ = x.shape
    H = layer.cell.hidden_size
    check_tensor("upstream", upstream, ndim=3, dtype_kind="float")
    if upstream.shape != (B, T, H):
        raise ValueError(f"upstream must have shape (B, T, H) = {(B, T, H)}, got "
                         f"{tuple(upstream.shape)}")
    cell = layer.cell
    with torch.no_grad():
        h = x.new_zeros(B, H) if state is None else state
        previous, slopes = [], []
        for t in range(T):  # the forward pass, keeping what the backward pass needs
            z = x[:, t] @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
            previous.append(h)
            h = cell.f(z)  # h_t = f(z_t)
            slopes.append(_slope(cell.nonlinearity, z, h))  # f'(z_t)
        grad = torch.zeros(H, H, dtype=x.dtype, device=x.device)
        contributions = torch.zeros(T, dtype=x.dtype, device=x.device)
        delta_next = x.new_zeros(B, H)
        for t in reversed(range(T)):
            g = upstream[:, t] + delta_next @ cell.weight_hh  # dL/dh_t, (B, H)
            delta = slopes[t] * g  # dL/dz_t
            step = delta.T @ previous[t]  # delta_t h_{t-1}^T, summed over the batch (H, H)
            grad += step
            contributions[t] = step.norm()
            delta_next = delta
    return grad, contributions


def _slope(nonlinearity: str, z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """f'(z), from the pre-activation z and the output h = f(z)."""
    if nonlinearity == "tanh":
        return 1 - h**2
    if nonlinearity == "sigmoid":
        return h * (1 - h)
    if nonlinearity == "relu":
        return (z > 0).to(z.dtype)
    return torch.ones_like(z)
