"""Linear recurrences trained in parallel: the scan, minGRU and minLSTM (Feng et al. 2024).

Take the previous state out of the gates and the recurrence becomes linear in the state:

    h_t = a_t * h_{t-1} + b_t            (elementwise; a_t, b_t depend on x_t only)

Two steps of it compose into one step of the same form,

    (a_2, b_2) after (a_1, b_1) = (a_2 a_1, a_2 b_1 + b_2),

and that composition is associative, so all T states can be computed by combining pairs in a
tree: about log2(T) rounds of elementwise work instead of T steps one after another
(Blelloch 1990; Martin and Cundy 2018). :func:`linear_scan` does exactly that, in plain
PyTorch (no custom kernel), and :func:`sequential_scan` is the loop it replaces.

minGRU drops h_{t-1} from the GRU's update gate and candidate:

    z_t = sigma(W_z x_t + b_z),  h~_t = W_h x_t + b_h,  h_t = (1 - z_t) h_{t-1} + z_t h~_t

so a_t = 1 - z_t and b_t = z_t h~_t. minLSTM does the same to the LSTM's forget and input
gates and normalises them to sum to one:

    f_t = sigma(W_f x_t + b_f),  i_t = sigma(W_i x_t + b_i),  h~_t = W_h x_t + b_h,
    h_t = f_t / (f_t + i_t) * h_{t-1} + i_t / (f_t + i_t) * h~_t

Both have ``forward(x, state=None) -> (out, h_T)`` (the scan), ``forward_loop`` (the same
recurrence one step at a time) and ``step(x_t, state) -> h_t`` (one token, for generation with
a constant-size state).
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_int, check_tensor
from .rnn import check_sequence


def _check_pair(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> None:
    check_tensor("a", a, ndim=3, dtype_kind="float")
    check_tensor("b", b, ndim=3, dtype_kind="float")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape (B, T, D), got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if h0 is not None and h0.shape != (a.shape[0], a.shape[2]):
        raise ValueError(f"h0 must have shape (B, D) = {(a.shape[0], a.shape[2])}, got "
                         f"{tuple(h0.shape)}")


def sequential_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None
                    ) -> torch.Tensor:
    """Every state of ``h_t = a_t * h_{t-1} + b_t`` by a loop over time: ``a``, ``b`` (B, T, D),
    ``h0`` (B, D) or None (zeros); returns (B, T, D). T steps, each waiting for the last."""
    _check_pair(a, b, h0)
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    states = []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]  # (B, D)
        states.append(h)
    return torch.stack(states, dim=1)


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None
                ) -> torch.Tensor:
    """The same states as :func:`sequential_scan`, by a parallel prefix scan: in round k every
    position t combines its pair with the pair 2^k positions earlier, so after ceil(log2 T)
    rounds position t holds the composition of steps 0..t, whose b is h_t. Each round is one
    elementwise operation over the whole sequence (Hillis and Steele's scan: T log T work,
    log T depth)."""
    _check_pair(a, b, h0)
    if h0 is not None:  # fold the initial state into the first step: h_0 = a_0 h0 + b_0
        b = torch.cat([(a[:, :1] * h0.unsqueeze(1) + b[:, :1]), b[:, 1:]], dim=1)
    T, offset = a.shape[1], 1
    while offset < T:
        # (a_t, b_t) <- (a_t, b_t) after (a_{t-k}, b_{t-k}); the first k positions are complete
        b = torch.cat([b[:, :offset], a[:, offset:] * b[:, :-offset] + b[:, offset:]], dim=1)
        a = torch.cat([a[:, :offset], a[:, offset:] * a[:, :-offset]], dim=1)
        offset *= 2
    return b


def scan_depth(length: int) -> int:
    """Rounds :func:`linear_scan` takes for ``length`` steps: ceil(log2 length)."""
    check_int("length", length, minimum=1)
    return (length - 1).bit_length()


class MinGRU(nn.Module):
    """minGRU: a GRU whose gate and candidate read only the input, so it trains by a scan."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = check_int("input_size", input_size, minimum=1)
        self.hidden_size = check_int("hidden_size", hidden_size, minimum=1)
        self.gate = nn.Linear(input_size, hidden_size)  # z_t
        self.candidate = nn.Linear(input_size, hidden_size)  # h~_t

    def coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, b)`` of the linear recurrence for inputs ``x`` (..., C): a = 1 - z, b = z h~."""
        z = torch.sigmoid(self.gate(x))  # (..., H)
        return 1 - z, z * self.candidate(x)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        check_sequence(x, self.input_size)
        out = linear_scan(*self.coefficients(x), state)  # (B, T, H)
        return out, out[:, -1]

    def forward_loop(self, x: torch.Tensor, state: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """The same as ``forward``, one step at a time (what the scan replaces)."""
        check_sequence(x, self.input_size)
        out = sequential_scan(*self.coefficients(x), state)
        return out, out[:, -1]

    def step(self, x: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """One token: ``x`` (B, C) and the state (B, H) -> the next state (B, H)."""
        a, b = self.coefficients(x)
        return b if state is None else a * state + b


class MinLSTM(MinGRU):
    """minLSTM: an LSTM whose forget and input gates read only the input, normalised to sum to
    one (Feng et al. 2024's length-independent form), so it trains by a scan."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.input_gate = nn.Linear(input_size, hidden_size)  # i_t; self.gate is f_t

    def coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, b)`` for inputs ``x``: a = f / (f + i), b = i / (f + i) h~."""
        f, i = torch.sigmoid(self.gate(x)), torch.sigmoid(self.input_gate(x))  # (..., H)
        total = f + i
        return f / total, i / total * self.candidate(x)

