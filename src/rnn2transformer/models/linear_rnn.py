"""Linear recurrences trained in parallel: the scan, minGRU and minLSTM (Feng et al. 2024).

Take the previous state out of the gates and the recurrence becomes linear in the state:

    h_t = a_t * h_{t-1} + b_t            (elementwise; a_t, b_t depend on x_t only)

Two steps of it compose into one step of the same form,

    (a_2, b_2) after (a_1, b_1) = (a_2 a_1, a_2 b_1 + b_2),

and that composition is associative, so all T states can be computed by combining pairs in a
tree: about log2(T) rounds of elementwise work instead of T steps one after another
(Blelloch 1990; Martin and Cundy 2018). :func:`linear_scan` does exactly that, in plain
PyTorch (no custom kernel), :func:`doubling_scan` is the simpler scan that does more work, and
:func:`sequential_scan` is the loop both replace.

minGRU drops h_{t-1} from the GRU's update gate and candidate:

    z_t = sigma(W_z x_t + b_z),  h~_t = W_h x_t + b_h,  h_t = (1 - z_t) h_{t-1} + z_t h~_t

so a_t = 1 - z_t and b_t = z_t h~_t. minLSTM does the same to the LSTM's forget and input
gates and normalises them to sum to one:

    f_t = sigma(W_f x_t + b_f),  i_t = sigma(W_i x_t + b_i),  h~_t = W_h x_t + b_h,
    h_t = f_t / (f_t + i_t) * h_{t-1} + i_t / (f_t + i_t) * h~_t

Both have ``forward(x, state=None) -> (out, h_T)`` (the scan), ``forward_loop`` (the same
recurrence one step at a time) and ``step(x_t, state) -> h_t`` (one token, for generation with
a constant-size state).

One such layer is linear in time, so it cannot combine two earlier tokens in a nonlinear way by
itself. Feng et al. stack them like a Transformer's blocks: :class:`LinearRNNModel` is the
pre-norm Transformer of :mod:`.transformer` with each block's self-attention swapped for a
minGRU or minLSTM layer (the "time mixer"); everything else, the feed-forward sublayer, the
residuals, the layer norms and the readout, is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .._checks import check_choice, check_int, check_tensor
from .block import Block, BlockStack
from .rnn import check_sequence
from .shared import check_config


def _check_pair(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> None:
    check_tensor("a", a, ndim=3, dtype_kind="float")
    check_tensor("b", b, ndim=3, dtype_kind="float")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape (B, T, D), got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if a.shape[1] == 0:
        raise ValueError(f"a and b must hold at least one step (T >= 1), got shape "
                         f"{tuple(a.shape)}")
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


def doubling_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None
                  ) -> torch.Tensor:
    """The same states as :func:`sequential_scan`, by recursive doubling: in round k every
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


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None
                ) -> torch.Tensor:
    """The same states as :func:`sequential_scan`, by a work-efficient parallel scan
    (Blelloch 1990): compose neighbouring steps in pairs, (2i, 2i+1), all at once; that is a
    recurrence of half the length over the odd positions, solved the same way; then every even
    position is one step from the odd state before it, all at once. About 2 log2 T rounds of
    elementwise work and 3T multiplications in all, where :func:`doubling_scan` does about 2T log2 T
    (on a CPU, where work is time, this one is several times faster)."""
    _check_pair(a, b, h0)
    if h0 is not None:  # fold the initial state into the first step: h_0 = a_0 h0 + b_0
        b = torch.cat([(a[:, :1] * h0.unsqueeze(1) + b[:, :1]), b[:, 1:]], dim=1)
    return _pairwise_scan(a, b)


def _pairwise_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    B, T, D = a.shape
    if T == 1:
        return b
    if T % 2:  # an odd length: one more step that changes nothing (a = 1, b = 0)
        a = torch.cat([a, a.new_ones(B, 1, D)], dim=1)
        b = torch.cat([b, b.new_zeros(B, 1, D)], dim=1)
    a_even, a_odd, b_even, b_odd = a[:, 0::2], a[:, 1::2], b[:, 0::2], b[:, 1::2]
    # steps 2i then 2i+1 in one: (a_odd a_even, a_odd b_even + b_odd); its states are h_{2i+1}
    h_odd = _pairwise_scan(a_odd * a_even, a_odd * b_even + b_odd)
    before = torch.cat([torch.zeros_like(h_odd[:, :1]), h_odd[:, :-1]], dim=1)  # h_{2i-1}
    h_even = a_even * before + b_even
    return torch.stack([h_even, h_odd], dim=2).reshape(B, -1, D)[:, :T]  # interleave


def log_space_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """The same states again, in closed form: with A_t = a_0 a_1 ... a_t,

        h_t = A_t * (b_0 / A_0 + b_1 / A_1 + ... + b_t / A_t),

    two cumulative operations (each itself a scan) instead of log2 T rounds. Written as it
    stands, the closed form fails: A_t underflows to 0 within a few hundred steps and b_s / A_s
    overflows. So it is computed in logarithms (Heinsen 2023): log A_t is a cumulative sum of
    log a, and the sum of b_s / A_s is ``logcumsumexp`` of log b_s - log A_s, which never
    overflows. Negative b are summed apart from positive b (two logarithms, one subtraction).
    ``a`` must lie in (0, 1], as the unsigned gates do (the signed minGRU's ``1 - 2z`` can be
    negative; the layers themselves run :func:`linear_scan`). Its price is precision: log A_t and
    the log of the sum grow with t and nearly cancel, so in float32 the relative error grows with
    |log A_t| (the chapter measures it); :func:`linear_scan` has no such loss."""
    _check_pair(a, b, h0)
    if bool((a <= 0).any()) or bool((a > 1).any()):
        raise ValueError("log_space_scan needs every a in (0, 1]; got values outside it")
    if h0 is not None:
        b = torch.cat([(a[:, :1] * h0.unsqueeze(1) + b[:, :1]), b[:, 1:]], dim=1)
    log_A = torch.cumsum(torch.log(a), dim=1)  # (B, T, D), falling
    # a finite stand-in for log 0, so that no gradient meets -inf - (-inf)
    nothing = torch.finfo(b.dtype).min / 4
    log_size = torch.log(b.abs().clamp_min(torch.finfo(b.dtype).tiny))

    def part(sign: int) -> torch.Tensor:  # the sum of the b of one sign, back from log space
        log_b = torch.where(sign * b > 0, log_size, torch.full_like(b, nothing))
        return torch.exp(log_A + torch.logcumsumexp(log_b - log_A, dim=1))

    return part(1) - part(-1)


def scan_depth(length: int) -> int:
    """Rounds :func:`doubling_scan` takes for ``length`` steps: ceil(log2 length) (the
    work-efficient :func:`linear_scan` takes about twice as many)."""
    check_int("length", length, minimum=1)
    return (length - 1).bit_length()


class MinGRU(nn.Module):
    """minGRU: a GRU whose gate and candidate read only the input, so it trains by a scan."""

    def __init__(self, input_size: int, hidden_size: int, *, scan: bool = True,
                 signed: bool = False) -> None:
        super().__init__()
        self.input_size = check_int("input_size", input_size, minimum=1)
        self.hidden_size = check_int("hidden_size", hidden_size, minimum=1)
        for name, flag in (("scan", scan), ("signed", signed)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        self.scan = scan  # False: forward runs the loop (the same numbers, for timing)
        # True: a = 1 - 2 z in (-1, 1) instead of 1 - z in (0, 1), so the state can flip sign
        # (Grazzi et al. 2025: what a linear recurrence needs to track parity)
        self.signed = signed
        self.gate = nn.Linear(input_size, hidden_size)  # z_t
        self.candidate = nn.Linear(input_size, hidden_size)  # h~_t

    def coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, b)`` of the linear recurrence for inputs ``x`` (..., C): a = 1 - z (1 - 2 z if
        ``signed``), b = z h~."""
        z = torch.sigmoid(self.gate(x))  # (..., H)
        return (1 - 2 * z if self.signed else 1 - z), z * self.candidate(x)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """All states for ``x`` (B, T, C) from ``state`` (B, H) or None (zeros), and the last:
        by the scan, or by the loop when the layer was made with ``scan=False``; one new token
        (T = 1, generation) is one :meth:`step`."""
        check_sequence(x, self.input_size)
        if x.shape[1] == 1:
            last = self.step(x[:, 0], state)
            return last.unsqueeze(1), last
        out = (linear_scan if self.scan else sequential_scan)(*self.coefficients(x), state)
        return out, out[:, -1]  # (B, T, H), (B, H)

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
    one (Feng et al. 2024's "length independence scaling"), so it trains by a scan."""

    def __init__(self, input_size: int, hidden_size: int, *, scan: bool = True) -> None:
        super().__init__(input_size, hidden_size, scan=scan)
        self.input_gate = nn.Linear(input_size, hidden_size)  # i_t; self.gate is f_t

    def coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, b)`` for inputs ``x``: a = f / (f + i), b = i / (f + i) h~."""
        f, i = torch.sigmoid(self.gate(x)), torch.sigmoid(self.input_gate(x))  # (..., H)
        total = f + i
        return f / total, i / total * self.candidate(x)


CELLS = {"mingru": MinGRU, "minlstm": MinLSTM}


@dataclass
class LinearRNNConfig:
    kind: str = "mingru"  # the time mixer: "mingru" or "minlstm"
    vocab_size: int = 65  # token ids in, embedded
    d_model: int = 64  # width of every position's vector, and of each layer's state
    n_layers: int = 2  # blocks
    d_ff: int = 256  # feed-forward width
    output_size: int = 65  # classes per prediction
    readout: str = "all"  # "all": one prediction per step; "last": from the last step
    loss: str = "cross_entropy"  # "mse" or "cross_entropy"
    scan: bool = True  # True: all states by linear_scan; False: by the loop (same numbers)

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, tuple(CELLS))
        check_config(self)
        check_choice("readout", self.readout, ("all", "last"))
        check_choice("loss", self.loss, ("mse", "cross_entropy"))
        if not isinstance(self.scan, bool):
            raise TypeError(f"scan must be True or False, got {self.scan!r}")


class LinearRNNBlock(Block):
    """x + Mixer(LN(x)), then x + FFN(LN(x)): the book's one :class:`~.block.Block` with a
    minGRU or minLSTM layer as its mixer over time instead of self-attention.
    (B, T, d) -> (B, T, d), and the mixer's last state (B, d)."""

    def __init__(self, kind: str, d_model: int, d_ff: int, *, scan: bool = True) -> None:
        check_choice("kind", kind, tuple(CELLS))
        super().__init__(CELLS[kind](d_model, d_model, scan=scan), d_model, d_ff)


class LinearRNNModel(BlockStack):
    """Embedding -> ``n_layers`` :class:`LinearRNNBlock` -> layer norm -> readout.

    ``forward(x, targets) -> (out, loss)`` like every task model of the book. No position
    encoding: the recurrence knows the order. ``forward_cached(x, state)`` continues from a
    state that has one (B, d) vector per layer, however long the past.
    """

    entry = "tensor"

    def __init__(self, config: LinearRNNConfig) -> None:
        if not isinstance(config, LinearRNNConfig):
            raise TypeError(f"config must be a LinearRNNConfig, got {type(config).__name__}")
        super().__init__(config, lambda: [
            LinearRNNBlock(config.kind, config.d_model, config.d_ff, scan=config.scan)
            for _ in range(config.n_layers)])
