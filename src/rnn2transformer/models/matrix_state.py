"""Matrix-state recurrences: linear attention as an RNN, the delta rule, and their decays.

Drop the softmax from causal attention and the sum over the past can be kept in a running
total (Katharopoulos et al. 2020, "Transformers are RNNs", arXiv 2006.16236). Per head the
state is a matrix S of shape (d_v, d_k), written by each token and read by its query:

    additive:    S_t = alpha_t S_{t-1} + v_t k_t^T,                              o_t = S_t q_t
    delta rule:  S_t = alpha_t S_{t-1} + beta_t (v_t - alpha_t S_{t-1} k_t) k_t^T,  o_t = S_t q_t

The additive rule only ever adds: two keys that overlap blur each other's values, and a key
written twice returns the sum. The delta rule (Widrow and Hoff 1960; DeltaNet, Yang et al.
2024, arXiv 2406.06484) first reads what the state already stores under k_t and writes only
the difference, a step of gradient descent on ||S k_t - v_t||^2 / 2 with learning rate beta_t:
with alpha = 1 it is S_t = S_{t-1} - beta_t (S_{t-1} k_t - v_t) k_t^T. A unit key with
beta = 1 overwrites its slot. alpha_t = exp(log_decay_t) in (0, 1] lets the state forget
(Gated DeltaNet, Yang et al. 2025, arXiv 2412.06464); log_decay=None means alpha = 1.

Each rule is computed three ways that give the same numbers: ``*_recurrent`` (one update per
token, what generation runs with a constant-size state), ``*_parallel`` (one T x T matrix,
like attention) and ``*_chunkwise`` (T x T work only inside chunks of C tokens, the state
carried between chunks: what training runs). Tensors, everywhere in this file:

    q, k: (B, H, T, d_k)   v: (B, H, T, d_v)   beta, log_decay: (B, H, T)   S: (B, H, d_v, d_k)

Decays are handled in logarithms: within a stretch of tokens every factor used is a product
gamma_t / gamma_i <= 1 of the alphas between two positions, the exponential of a sum of
log_decay over exactly those positions, so nothing overflows however long the sequence.

:class:`LinearAttention` and :class:`DeltaNet` are the layers (projections, feature maps,
gates) around these functions, :class:`ShortConv` the small causal convolution modern
linear-recurrent layers put in front, and :func:`state_size` counts the numbers each carries
from one token to the next.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_int, check_tensor

EPS = 1e-6  # added to the linear-attention denominator, as Katharopoulos et al. do


def _check_inputs(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *,
                  beta: torch.Tensor | None = None, log_decay: torch.Tensor | None = None,
                  state: torch.Tensor | None = None, need_beta: bool = False, lead: str = "q"
                  ) -> tuple[int, int, int, int, int]:
    """(B, H, T, d_k, d_v) after checking every tensor against q's shape and dtype (``lead``
    names the first tensor: k, where there is no q)."""
    check_tensor(lead, q, ndim=4, dtype_kind="float")
    B, H, T, d_k = q.shape
    if T < 1:
        raise ValueError(f"{lead} must hold at least one token (B, H, T >= 1, d_k), got "
                         f"{tuple(q.shape)}")
    check_tensor("k", k, ndim=4, dtype_kind="float")
    if k.shape != q.shape:
        raise ValueError(f"k must have q's shape (B, H, T, d_k) = {tuple(q.shape)}, got "
                         f"{tuple(k.shape)}")
    check_tensor("v", v, ndim=4, dtype_kind="float")
    if v.shape[:3] != q.shape[:3]:
        raise ValueError(f"v must have shape (B, H, T, d_v) = {(B, H, T)} + (d_v,), got "
                         f"{tuple(v.shape)}")
    d_v = v.shape[-1]
    if need_beta and beta is None:
        raise TypeError("beta must be a tensor of shape (B, H, T), got None")
    expected = {"beta": ("(B, H, T)", (B, H, T)), "log_decay": ("(B, H, T)", (B, H, T)),
                "state": ("(B, H, d_v, d_k)", (B, H, d_v, d_k))}
    for name, x in (("k", k), ("v", v), ("beta", beta), ("log_decay", log_decay),
                    ("state", state)):
        if x is None:
            continue
        if name in expected:
            check_tensor(name, x, dtype_kind="float")
            letters, shape = expected[name]
            if x.shape != shape:
                raise ValueError(f"{name} must have shape {letters} = {shape}, got "
                                 f"{tuple(x.shape)}")
        if x.dtype != q.dtype:
            raise TypeError(f"{name} must have {lead}'s dtype {q.dtype}, got {x.dtype}")
    if log_decay is not None and bool((log_decay > 0).any()):
        raise ValueError("log_decay must be <= 0 everywhere (alpha = exp(log_decay) in (0, 1]), "
                         f"got a largest value of {log_decay.max().item():.3g}")
    return B, H, T, d_k, d_v


def _decays(log_decay: torch.Tensor | None, like: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The decay factors of stretches of C tokens, from ``log_decay`` (..., C) or None
    (alpha = 1); ``like`` (..., C, d) gives the shape, dtype and device. Returns

        Gamma (..., C, C): gamma_t / gamma_i for i <= t, 0 above the diagonal
        gamma (..., C):    gamma_t, the product of the stretch's alphas up to and with t
        to_end (..., C):   gamma_C / gamma_i, from token i to the stretch's end
        total (...):       gamma_C, the whole stretch

    (tokens numbered 1 ... C, as in the docstrings of the chunkwise forms).

    Every entry is exp of a sum of log_decay over exactly its own positions (the
    "segment sum" of Mamba-2, Dao and Gu 2024): exp(c_t - c_i) from one cumulative sum c
    would give the same numbers in exact arithmetic, but c grows with the stretch and the
    difference of two large sums loses the digits the small ones need."""
    C = like.shape[-2]
    if log_decay is None:
        ones = torch.ones(like.shape[:-1], dtype=like.dtype, device=like.device)  # (..., C)
        lower = torch.ones(C, C, dtype=like.dtype, device=like.device).tril()
        return lower.expand(*ones.shape, C), ones, ones, ones[..., 0]
    x = F.pad(log_decay, (1, 0))  # (..., C + 1): position 0 stands for "before the stretch"
    n = C + 1
    after = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)  # [i, r]: r > i
    # sums[i, t] = sum of x_r over i < r <= t: row i holds x_r for r > i, summed along the row
    # (rows, not columns: a cumulative sum along contiguous memory is the fast one)
    sums = x.unsqueeze(-2).expand(*x.shape, n).masked_fill(~after, 0).cumsum(-1)
    sums = sums.masked_fill(after.mT, float("-inf"))  # t < i: no factor from the future
    factors = sums.exp().mT  # [t, i]: 0 above the diagonal, gamma_t / gamma_i <= 1 elsewhere
    return factors[..., 1:, 1:], factors[..., 1:, 0], factors[..., -1, 1:], factors[..., -1, 0]


def _chunks(x: torch.Tensor, C: int) -> torch.Tensor:
    """(B, H, T, ...) -> (B, H, N, C, ...), N = ceil(T / C), zero-padded at the end. A padded
    token has k = v = beta = 0 and log_decay = 0, so it changes no state; its output is cut."""
    T = x.shape[2]
    pad = -T % C
    if pad:
        x = F.pad(x, (0, 0) * (x.ndim - 3) + (0, pad))
    return x.reshape(*x.shape[:2], -1, C, *x.shape[3:])


def _unchunk(x: torch.Tensor, T: int) -> torch.Tensor:
    """(B, H, N, C, d) -> (B, H, T, d): the chunks back in a row, the padding cut."""
    return x.reshape(x.shape[0], x.shape[1], -1, x.shape[-1])[:, :, :T]


def linear_attention_parallel(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                              log_decay: torch.Tensor | None = None) -> torch.Tensor:
    """Causal linear attention as one masked T x T matrix, like attention without a softmax:

        O = (tril(Q K^T) * D) V,   D_ts = exp(sum_{s < r <= t} log alpha_r)  (1 without decay)

    No scaling and no feature map inside: the layer applies them to q and k first. Returns O
    (B, H, T, d_v); T^2 memory, so this form is for checking and for short sequences."""
    _check_inputs(q, k, v, log_decay=log_decay)
    D = _decays(log_decay, q)[0]  # (B, H, T, T), lower triangular
    return ((q @ k.mT) * D) @ v  # (B, H, T, d_v)


def linear_attention_recurrent(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                               log_decay: torch.Tensor | None = None,
                               state: torch.Tensor | None = None
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The same outputs one token at a time: ``S_t = alpha_t S_{t-1} + v_t k_t^T``,
    ``o_t = S_t q_t``, from ``state`` S_0 (B, H, d_v, d_k) or zeros. Returns (O, S_T): the
    state is all a generator keeps, however long the past."""
    B, H, T, d_k, d_v = _check_inputs(q, k, v, log_decay=log_decay, state=state)
    S = q.new_zeros(B, H, d_v, d_k) if state is None else state
    outs = []
    for t in range(T):
        if log_decay is not None:
            S = log_decay[:, :, t, None, None].exp() * S  # forget a little
        S = S + v[:, :, t, :, None] * k[:, :, t, None, :]  # write v_t under k_t: (B, H, dv, dk)
        outs.append((S @ q[:, :, t, :, None]).squeeze(-1))  # read with q_t: (B, H, d_v)
    return torch.stack(outs, dim=2), S


def linear_attention_chunkwise(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                               log_decay: torch.Tensor | None = None,
                               state: torch.Tensor | None = None, chunk: int = 64
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The same outputs by chunks of C = ``chunk`` tokens. Inside a chunk that starts from
    state S_0, with gamma_t the product of the chunk's alphas up to t,

        o_t = gamma_t S_0 q_t + sum_{i <= t} (gamma_t / gamma_i) (q_t . k_i) v_i
        S_C = gamma_C S_0 + sum_i (gamma_C / gamma_i) v_i k_i^T

    The second term of o_t is the parallel form on C tokens; it is computed for all chunks at
    once, and only the (d_v, d_k) state passes from chunk to chunk: T C work instead of T^2,
    and T / C steps in a row instead of T. T need not be a multiple of C. Returns (O, S_T)."""
    B, H, T, d_k, d_v = _check_inputs(q, k, v, log_decay=log_decay, state=state)
    C = min(check_int("chunk", chunk, minimum=1), T)
    qc, kc, vc = _chunks(q, C), _chunks(k, C), _chunks(v, C)  # (B, H, N, C, d)
    Gamma, gamma, to_end, total = _decays(None if log_decay is None else _chunks(log_decay, C),
                                          qc)
    out = ((qc @ kc.mT) * Gamma) @ vc  # (B, H, N, C, d_v): each chunk's own tokens
    writes = (vc * to_end[..., None]).mT @ kc  # (B, H, N, d_v, d_k): what each chunk adds
    S = q.new_zeros(B, H, d_v, d_k) if state is None else state
    starts = []
    for n in range(qc.shape[2]):  # the only loop: T / C steps of a (d_v, d_k) state
        starts.append(S)
        S = total[:, :, n, None, None] * S + writes[:, :, n]
    S0 = torch.stack(starts, dim=2)  # (B, H, N, d_v, d_k): the state each chunk starts from
    out = out + gamma[..., None] * (qc @ S0.mT)  # the past before the chunk, read by each q
    return _unchunk(out, T), S


def _delta_updates(k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor,
                   log_decay: torch.Tensor | None, S: torch.Tensor):
    """Yield S_1, ..., S_T of the delta rule, one token at a time (no checks: callers check)."""
    for t in range(k.shape[2]):
        if log_decay is not None:
            S = log_decay[:, :, t, None, None].exp() * S  # alpha_t S_{t-1}
        k_t = k[:, :, t]  # (B, H, d_k)
        stored = (S @ k_t[..., None]).squeeze(-1)  # what the state returns for k_t: (B, H, d_v)
        u = beta[:, :, t, None] * (v[:, :, t] - stored)  # the correction: (B, H, d_v)
        S = S + u[..., :, None] * k_t[..., None, :]  # (B, H, d_v, d_k)
        yield S


def delta_rule_recurrent(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                         beta: torch.Tensor, log_decay: torch.Tensor | None = None,
                         state: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """The delta rule one token at a time:

        S_t = alpha_t S_{t-1} + beta_t (v_t - alpha_t S_{t-1} k_t) k_t^T,   o_t = S_t q_t

    from ``state`` S_0 (B, H, d_v, d_k) or zeros. With ||k_t|| = 1 and beta_t in [0, 2] the
    map S -> S (I - beta_t k_t k_t^T) has no eigenvalue outside [-1, 1]: it never stretches the
    state, though the writes beta_t v_t k_t^T can still make it grow (slowly: at beta_t = 2 with
    one key and values of alternating sign, in proportion to t); with larger keys the map itself
    can grow it without limit. Returns (O, S_T)."""
    B, H, T, d_k, d_v = _check_inputs(q, k, v, beta=beta, log_decay=log_decay, state=state,
                                      need_beta=True)
    S = q.new_zeros(B, H, d_v, d_k) if state is None else state
    outs = []
    for t, S_t in enumerate(_delta_updates(k, v, beta, log_decay, S)):
        outs.append((S_t @ q[:, :, t, :, None]).squeeze(-1))  # o_t = S_t q_t: (B, H, d_v)
    return torch.stack(outs, dim=2), S_t


def delta_rule_states(k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor,
                      log_decay: torch.Tensor | None = None, state: torch.Tensor | None = None
                      ) -> torch.Tensor:
    """Every state S_1 ... S_T of the delta rule, (B, H, T, d_v, d_k): what a figure needs to
    show the memory matrix change token by token (T d_v d_k numbers per head: keep T small)."""
    B, H, T, d_k, d_v = _check_inputs(k, k, v, beta=beta, log_decay=log_decay, state=state,
                                      need_beta=True, lead="k")
    S = k.new_zeros(B, H, d_v, d_k) if state is None else state
    return torch.stack(list(_delta_updates(k, v, beta, log_decay, S)), dim=2)


def delta_rule_chunkwise(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                         beta: torch.Tensor, log_decay: torch.Tensor | None = None,
                         state: torch.Tensor | None = None, chunk: int = 64
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """The delta rule by chunks of C tokens, in the WY ("UT transform") form of Yang et al.

    Write the update as S_t = alpha_t S_{t-1} + u_t k_t^T with u_t = beta_t (v_t - alpha_t
    S_{t-1} k_t). Unrolled from the chunk's first state S_0, with gamma_t = alpha_1...alpha_t,

        S_t = gamma_t S_0 + sum_{i <= t} (gamma_t / gamma_i) u_i k_i^T.

    Put that S_{t-1} into u_t: u_t = beta_t (v_t - gamma_t S_0 k_t - sum_{i < t} (gamma_t /
    gamma_i) (k_t . k_i) u_i), the same u on both sides. In rows (U is C x d_v):

        (I + A) U = diag(beta) (V - diag(gamma) K S_0^T),
        A_ti = beta_t (gamma_t / gamma_i) (k_t . k_i) for i < t, 0 otherwise,

    a unit lower-triangular system, solved by substitution. Its right side is linear in S_0,
    so U = U_0 - W S_0^T with (I + A) [U_0, W] = [diag(beta) V, diag(beta gamma) K]: the solve
    is done for every chunk at once, before any state is known. Then, chunk after chunk,

        O   = diag(gamma) Q S_0^T + (tril(Q K^T) * Gamma) U,   Gamma_ti = gamma_t / gamma_i
        S_C = gamma_C S_0 + sum_i (gamma_C / gamma_i) u_i k_i^T

    (tril keeps the diagonal). T need not be a multiple of C. Returns (O, S_T)."""
    B, H, T, d_k, d_v = _check_inputs(q, k, v, beta=beta, log_decay=log_decay, state=state,
                                      need_beta=True)
    C = min(check_int("chunk", chunk, minimum=1), T)
    qc, kc, vc, bc = _chunks(q, C), _chunks(k, C), _chunks(v, C), _chunks(beta, C)
    Gamma, gamma, to_end, total = _decays(None if log_decay is None else _chunks(log_decay, C),
                                          qc)
    A = (bc[..., None] * Gamma * (kc @ kc.mT)).tril(-1)  # (B, H, N, C, C), strictly lower
    eye = torch.eye(C, dtype=q.dtype, device=q.device)
    right = torch.cat([bc[..., None] * vc, (bc * gamma)[..., None] * kc], dim=-1)
    U0, W = torch.linalg.solve_triangular(eye + A, right, upper=False,
                                          unitriangular=True).split([d_v, d_k], dim=-1)
    P = (qc @ kc.mT) * Gamma  # (B, H, N, C, C): the reads inside each chunk
    S = q.new_zeros(B, H, d_v, d_k) if state is None else state
    outs = []
    for n in range(qc.shape[2]):  # T / C steps of a (d_v, d_k) state
        U = U0[:, :, n] - W[:, :, n] @ S.mT  # (B, H, C, d_v): the chunk's corrections u_t
        outs.append(gamma[:, :, n, :, None] * (qc[:, :, n] @ S.mT) + P[:, :, n] @ U)
        S = total[:, :, n, None, None] * S + (U * to_end[:, :, n, :, None]).mT @ kc[:, :, n]
    return _unchunk(torch.stack(outs, dim=2), T), S


def delta_rule_parallel(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, beta: torch.Tensor,
                        log_decay: torch.Tensor | None = None) -> torch.Tensor:
    """The delta rule for the whole sequence at once: :func:`delta_rule_chunkwise` with one
    chunk of all T tokens (a T x T triangular solve, no loop over time). Returns O."""
    _check_inputs(q, k, v, beta=beta, log_decay=log_decay, need_beta=True)
    return delta_rule_chunkwise(q, k, v, beta, log_decay, chunk=q.shape[2])[0]


def _check_sequence(name: str, x: torch.Tensor, width: int, ndim: int = 3) -> None:
    """Refuse anything but a float (B, T, width) sequence (or a (B, width) token)."""
    check_tensor(name, x, ndim=ndim, dtype_kind="float")
    if x.shape[-1] != width:
        want = "(B, T, " if ndim == 3 else "(B, "
        raise ValueError(f"{name} must have shape {want}{width}), got {tuple(x.shape)}")


class ShortConv(nn.Module):
    """A causal depthwise convolution: channel c of the output at t is

        y_{t,c} = sum_{j < K} w_{c,j} x_{t-K+1+j, c}     (K = kernel_size, x_{<0} = 0 or state)

    Each channel has its own K weights and sees only the present and the K - 1 tokens before
    it. Mamba, DeltaNet and Gated DeltaNet put one this small in front of their recurrences: it
    mixes neighbouring tokens (an n-gram's worth of context) cheaply, so the matrix state need
    not. No bias and no activation here: the layer that uses it adds its own. The state is the
    last K - 1 inputs, (B, K - 1, d), so :meth:`step` continues exactly where ``forward``
    stopped."""

    def __init__(self, d: int, kernel_size: int = 4) -> None:
        super().__init__()
        self.d = check_int("d", d, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        bound = kernel_size ** -0.5  # nn.Conv1d's default for a depthwise kernel (fan-in K)
        self.weight = nn.Parameter(torch.empty(d, kernel_size).uniform_(-bound, bound))

    @property
    def state_numbers(self) -> int:
        """Numbers carried per sequence from one token to the next: (K - 1) d."""
        return (self.kernel_size - 1) * self.d

    def _past(self, x: torch.Tensor, state: torch.Tensor | None) -> torch.Tensor:
        want = (x.shape[0], self.kernel_size - 1, self.d)
        if state is None:
            return x.new_zeros(want)
        check_tensor("state", state, ndim=3, dtype_kind="float")
        if tuple(state.shape) != want:
            raise ValueError(f"state must have shape (B, kernel_size - 1, d) = {want}, got "
                             f"{tuple(state.shape)}")
        return state.to(x.dtype)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, T, d) -> (y (B, T, d), the last K - 1 inputs (B, K - 1, d))."""
        _check_sequence("x", x, self.d)
        window = torch.cat([self._past(x, state), x], dim=1)  # (B, K - 1 + T, d)
        # conv1d slides w over the window without flipping it: w_{c,K-1} meets x_t
        y = F.conv1d(window.mT, self.weight.unsqueeze(1), groups=self.d).mT  # (B, T, d)
        return y, window[:, x.shape[1]:]

    def step(self, x: torch.Tensor, state: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """One token ``x`` (B, d) -> (y (B, d), the new state (B, K - 1, d))."""
        _check_sequence("x", x, self.d, ndim=2)
        window = torch.cat([self._past(x.unsqueeze(1), state), x.unsqueeze(1)], dim=1)  # B K d
        return (window * self.weight.T).sum(dim=1), window[:, 1:]


FEATURES = {"elu+1": lambda x: F.elu(x) + 1, "identity": lambda x: x}


class _MatrixStateLayer(nn.Module):
    """What :class:`LinearAttention` and :class:`DeltaNet` share: H heads, key width d_key,
    value width d_v = d_model / H, the projections W_q, W_k (d_model -> H d_key), W_v and W_o
    (d_model -> d_model), and the three ways to run the recurrence. A subclass says which
    functions run it and turns x into their arguments (``_arguments``)."""

    parallel = staticmethod(linear_attention_parallel)
    recurrent = staticmethod(linear_attention_recurrent)
    chunkwise = staticmethod(linear_attention_chunkwise)

    def __init__(self, d_model: int, n_heads: int, d_key: int | None, chunk: int) -> None:
        super().__init__()
        self.d_model = check_int("d_model", d_model, minimum=1)
        self.n_heads = check_int("n_heads", n_heads, minimum=1)
        if d_model % n_heads:
            raise ValueError(f"d_model must be divisible by n_heads, got d_model={d_model} and "
                             f"n_heads={n_heads}")
        self.d_key = d_model // n_heads if d_key is None else check_int("d_key", d_key,
                                                                        minimum=1)
        self.d_value = d_model // n_heads
        self.chunk = check_int("chunk", chunk, minimum=1)
        self.q_proj = nn.Linear(d_model, n_heads * self.d_key, bias=False)
        self.k_proj = nn.Linear(d_model, n_heads * self.d_key, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.out_proj = nn.Linear(d_model, d_model, bias=False)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, H d) -> (B, H, T, d)."""
        return x.unflatten(-1, (self.n_heads, -1)).transpose(1, 2)

    def _per_head(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, H) -> (B, H, T): a gate's one number per head and token."""
        return x.transpose(1, 2)

    def _read(self, o: torch.Tensor) -> torch.Tensor:
        """(B, H, T, d_v) -> (B, T, d_model): the heads side by side, through W_o."""
        return self.out_proj(o.transpose(1, 2).flatten(2))

    def _arguments(self, x: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, T, d_model) from ``state`` (None: zeros) -> (out (B, T, d_model), the
        state after the last token), by the chunkwise form (what training runs)."""
        _check_sequence("x", x, self.d_model)
        o, S = self.chunkwise(*self._arguments(x), state=state, chunk=self.chunk)
        return self._read(o), S

    def forward_recurrent(self, x: torch.Tensor, state: torch.Tensor | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """The same as ``forward``, one token at a time (the recurrent form)."""
        _check_sequence("x", x, self.d_model)
        o, S = self.recurrent(*self._arguments(x), state=state)
        return self._read(o), S

    def forward_parallel(self, x: torch.Tensor) -> torch.Tensor:
        """The same outputs as ``forward`` from a zero state, by the T x T parallel form (which
        has no state to start from or to return)."""
        _check_sequence("x", x, self.d_model)
        return self._read(self.parallel(*self._arguments(x)))

    def step(self, x: torch.Tensor, state: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """One token ``x`` (B, d_model) -> (out (B, d_model), the new state): one update of a
        state whose size does not depend on how many tokens came before."""
        _check_sequence("x", x, self.d_model, ndim=2)
        out, S = self.forward_recurrent(x.unsqueeze(1), state)
        return out[:, 0], S


def _check_flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


class LinearAttention(_MatrixStateLayer):
    """Linear attention (Katharopoulos et al. 2020) as a layer: per head,

        S_t = alpha_t S_{t-1} + v_t phi(k_t)^T,   z_t = alpha_t z_{t-1} + phi(k_t),
        o_t = S_t phi(q_t) / (z_t . phi(q_t))      (the division only if ``normalize``)

    with phi(x) = elu(x) + 1 (``feature="elu+1"``, positive, so the denominator is too) or the
    identity. The fraction is softmax attention with exp(q . k) replaced by phi(q) . phi(k):
    weights that still sum to one, but whose sum splits into a running total. z rides in the
    state as its last row (v gets a column of ones), so the state is (B, H, d_v + 1, d_key)
    when ``normalize`` and (B, H, d_v, d_key) when not; the denominator gets EPS added, as in
    the paper's code. ``decay=True`` adds a learned gate per head and token,
    alpha_t = sigmoid(w_a . x_t + b_a), a forgetting that unbounded sums lack (alpha = 1
    otherwise)."""

    def __init__(self, d_model: int, n_heads: int = 1, d_key: int | None = None, *,
                 feature: str = "elu+1", normalize: bool = True, decay: bool = False,
                 chunk: int = 64) -> None:
        super().__init__(d_model, n_heads, d_key, chunk)
        self.feature = check_choice("feature", feature, FEATURES)
        self.normalize = _check_flag("normalize", normalize)
        self.decay = _check_flag("decay", decay)
        if normalize and feature != "elu+1":
            raise ValueError(f"normalize=True needs a positive feature map ('elu+1') so the "
                             f"denominator cannot be zero, got feature={feature!r}")
        if decay:
            self.gate = nn.Linear(d_model, n_heads)
            # alpha starts near 31/32, a memory of about 32 tokens, which training can change
            nn.init.zeros_(self.gate.weight)
            nn.init.constant_(self.gate.bias, math.log(31))

    @property
    def state_numbers(self) -> int:
        """Numbers carried per sequence from one token to the next: H d_key (d_v + 1 if
        normalized)."""
        return self.n_heads * self.d_key * (self.d_value + self.normalize)

    def _arguments(self, x: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        phi = FEATURES[self.feature]
        q, k = phi(self._split(self.q_proj(x))), phi(self._split(self.k_proj(x)))  # B H T dk
        v = self._split(self.v_proj(x))  # (B, H, T, d_v)
        if self.normalize:  # a column of ones: the state's last row sums phi(k), that is z_t
            v = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1)
        log_decay = F.logsigmoid(self._per_head(self.gate(x))) if self.decay else None
        return q, k, v, log_decay

    def _read(self, o: torch.Tensor) -> torch.Tensor:
        if self.normalize:  # S_t phi(q_t) over z_t . phi(q_t)
            o = o[..., :-1] / (o[..., -1:] + EPS)
        return super()._read(o)


class DeltaNet(_MatrixStateLayer):
    """DeltaNet (Yang et al. 2024) as a layer: per head,

        q_t, k_t = normalize(silu(W_q x_t)), normalize(silu(W_k x_t))     (unit length)
        beta_t = sigmoid(w_b . x_t + b_b)              (times 2 if ``negative_eigenvalues``)
        S_t = alpha_t S_{t-1} + beta_t (v_t - alpha_t S_{t-1} k_t) k_t^T,   o_t = S_t q_t

    Unit keys make each transition S -> S (I - beta_t k_t k_t^T) non-expansive (not a
    contraction: across k_t it leaves the state as it is, and along k_t it moves the state's
    read-out a share beta_t of the way to v_t). With beta in (0, 1) its eigenvalues are in (0, 1];
    ``negative_eigenvalues=True`` lets beta reach (0, 2), so one eigenvalue 1 - beta can be
    negative, which Grazzi et al. 2025 (arXiv 2411.12537) show a linear recurrence needs to
    track parity. ``gated=True`` is Gated DeltaNet (Yang et al. 2025): a decay per head and
    token, log alpha_t = -exp(A_log) softplus(w_a . x_t + dt_bias) < 0, Mamba-2's form,
    initialised as Mamba-2 does (alpha = 1 without it). The state is (B, H, d_v, d_key)."""

    parallel = staticmethod(delta_rule_parallel)
    recurrent = staticmethod(delta_rule_recurrent)
    chunkwise = staticmethod(delta_rule_chunkwise)

    def __init__(self, d_model: int, n_heads: int = 1, d_key: int | None = None, *,
                 gated: bool = False, negative_eigenvalues: bool = False,
                 chunk: int = 64) -> None:
        super().__init__(d_model, n_heads, d_key, chunk)
        self.gated = _check_flag("gated", gated)
        self.negative_eigenvalues = _check_flag("negative_eigenvalues", negative_eigenvalues)
        self.beta_proj = nn.Linear(d_model, n_heads)
        if gated:
            self.a_proj = nn.Linear(d_model, n_heads, bias=False)
            # Mamba-2's initialisation: rates A in [1, 16], steps softplus(dt_bias) in
            # [0.001, 0.1], so the heads start with memories from about 1 to 1,000 tokens
            self.A_log = nn.Parameter(torch.empty(n_heads).uniform_(1, 16).log())
            dt = torch.empty(n_heads).uniform_(math.log(1e-3), math.log(1e-1)).exp()
            self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1(dt)

    @property
    def state_numbers(self) -> int:
        """Numbers carried per sequence from one token to the next: H d_key d_v."""
        return self.n_heads * self.d_key * self.d_value

    def _arguments(self, x: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        def unit(h: torch.Tensor) -> torch.Tensor:  # silu, then length 1 per head
            return F.normalize(F.silu(self._split(h)), dim=-1, eps=EPS)

        q, k, v = unit(self.q_proj(x)), unit(self.k_proj(x)), self._split(self.v_proj(x))
        beta = torch.sigmoid(self._per_head(self.beta_proj(x)))  # (B, H, T)
        if self.negative_eigenvalues:
            beta = 2 * beta
        log_decay = None
        if self.gated:
            log_decay = -self.A_log.exp()[:, None] * F.softplus(
                self._per_head(self.a_proj(x)) + self.dt_bias[:, None])  # (B, H, T), < 0
        return q, k, v, beta, log_decay

    def states(self, x: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """Every state S_1 ... S_T the layer goes through on ``x`` (B, T, d_model):
        (B, H, T, d_v, d_key), for a figure of the memory changing token by token."""
        _check_sequence("x", x, self.d_model)
        q, k, v, beta, log_decay = self._arguments(x)
        return delta_rule_states(k, v, beta, log_decay, state)


def state_size(module: nn.Module) -> int:
    """How many numbers ``module`` carries per sequence from one token to the next: the sum
    over its :class:`ShortConv`, :class:`LinearAttention` and :class:`DeltaNet` layers (a
    matrix state is H d_key d_v, a convolution's (K - 1) d). It does not grow with the length
    of the past, unlike a Transformer's cache of keys and values, 2 d_model numbers per token
    and layer."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    layers = [m for m in module.modules() if isinstance(m, ShortConv | _MatrixStateLayer)]
    if not layers:
        raise ValueError(f"module must contain a ShortConv, LinearAttention or DeltaNet, got "
                         f"a {type(module).__name__} with none")
    return sum(m.state_numbers for m in layers)
