"""The 2026 block: the Transformer decoder as language models are built now (chapter 7).

The block of 2017 (:mod:`.transformer`) and the decoder block of today's open models (Llama 3,
Qwen 3, Gemma 3, Mistral, OLMo 2) share the wiring, a residual stream with a normalisation
before each sublayer (pre-norm), and differ in four parts and one habit:

* :class:`RMSNorm` (Zhang and Sennrich, 2019) instead of LayerNorm: no mean subtracted and no
  bias, RMSNorm(x) = g * x / sqrt(mean(x^2) + eps).
* :class:`SwiGLU` (Shazeer, 2020) instead of the ReLU feed-forward layer: a gated product,
  FFN(x) = (SiLU(x W_1) * x W_3) W_2. Three matrices instead of two, so its hidden width is
  about 8/3 d_model where the ReLU layer's is 4 d_model, for the same 8 d_model^2 weights.
* Rotary position embeddings (Su et al., 2024; :func:`rotary_angles`, :func:`rotate`): nothing
  is added to the input; each query and key is rotated, pair of dimensions by pair, by an angle
  proportional to its position, so q_m . k_n depends on the positions only through m - n.
* Grouped-query attention (Ainslie et al., 2023; :class:`GroupedQueryAttention`): ``n_heads``
  query heads share ``n_kv_heads`` key/value heads, so a decoder's key/value cache is
  ``n_heads / n_kv_heads`` times smaller (``n_kv_heads = 1`` is Shazeer's multi-query
  attention, ``n_kv_heads = n_heads`` plain multi-head attention).
* No biases in any linear layer (PaLM, Chowdhery et al., 2022).

:class:`ModernBlock` follows the book's mixer protocol (:mod:`.block`): its mixer is
``forward(x, state=None, **options) -> (out, state)``, the state a key/value cache. It is a class
of its own rather than a :class:`~.block.Block`: a Block fixes its normalisation (LayerNorm) and
its feed-forward layer (ReLU, with biases), exactly the two parts this block replaces, so what
the two share is the pre-norm wiring, two lines. Its parts keep Block's names (``mixer``,
``norm1``, ``norm2``, ``feed_forward`` with its ``linear1`` and ``linear2``).
:class:`ModernModel` is the decoder-only language model around it, ``forward(x, targets) ->
(out, loss)`` with the package's readout.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_int, check_tensor
from .attention import KVCache, attention
from .block import BlockStack
from .shared import check_config, count_parameters


class RMSNorm(nn.Module):
    """Root-mean-square normalisation over the last dimension, with a learned gain ``weight``
    and no bias; the same numbers as ``torch.nn.RMSNorm(d_model, eps=eps)``."""

    def __init__(self, d_model: int, *, eps: float = 1e-6) -> None:
        super().__init__()
        check_int("d_model", d_model, minimum=1)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))  # g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inverse_rms = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return self.weight * (x * inverse_rms)  # g * x / sqrt(mean(x^2) + eps)


class SwiGLU(nn.Module):
    """The gated feed-forward layer FFN(x) = (SiLU(x W_1) * x W_3) W_2, no biases;
    ``linear1`` holds W_1 and W_3 stacked (one matrix product for both), ``linear2`` is W_2."""

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        check_int("d_model", d_model, minimum=1)
        check_int("d_ff", d_ff, minimum=1)
        self.linear1 = nn.Linear(d_model, 2 * d_ff, bias=False)  # [W_1, W_3]
        self.linear2 = nn.Linear(d_ff, d_model, bias=False)  # W_2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.linear1(x).chunk(2, dim=-1)  # x W_1, x W_3
        return self.linear2(F.silu(gate) * up)  # (SiLU(x W_1) * x W_3) W_2


def rotary_angles(positions: torch.Tensor, d_head: int, *, base: float = 10000.0
                  ) -> torch.Tensor:
    """The rotation angles m theta_i of rotary embeddings: (T, d_head / 2) for the positions m
    in ``positions`` (T,), with theta_i = base^(-2i / d_head), the frequencies of the sinusoidal
    encoding. Float64, so long positions keep their precision; :func:`rotate` casts."""
    check_tensor("positions", positions, ndim=1)
    check_int("d_head", d_head, minimum=2)
    if d_head % 2:
        raise ValueError(f"d_head must be even (dimensions are rotated in pairs), got {d_head}")
    theta = base ** (-torch.arange(0, d_head, 2, dtype=torch.float64) / d_head)  # (d_head/2,)
    return positions.to(torch.float64).unsqueeze(1) * theta  # m theta_i      (T, d_head/2)


def rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate each pair of dimensions (2i, 2i + 1) of ``x`` (..., T, d_head) by the angle
    ``angles[t, i]`` (T, d_head / 2): the rotary position embedding of a query or key,

        (x_2i, x_2i+1) -> (x_2i cos a - x_2i+1 sin a,  x_2i sin a + x_2i+1 cos a),

    computed as Su et al. write it: the pair is the complex number x_2i + i x_2i+1, and the
    rotation multiplies it by e^(i a)."""
    check_tensor("x", x, dtype_kind="float")
    if angles.shape != (x.shape[-2], x.shape[-1] // 2) or x.shape[-1] % 2:
        raise ValueError(f"angles must have shape (T, d_head / 2) = ({x.shape[-2]}, "
                         f"{x.shape[-1] // 2}) for x of shape {tuple(x.shape)}, got "
                         f"{tuple(angles.shape)}")
    pairs = x.unflatten(-1, (-1, 2))  # (..., T, d_head/2, 2): (x_2i, x_2i+1)
    if x.dtype not in (torch.float32, torch.float64):
        pairs = pairs.float()  # complex numbers of bf16 or fp16 do not exist
    if pairs.storage_offset() % 2 or any(s % 2 for s in pairs.stride()[:-1]):
        pairs = pairs.contiguous()  # a complex view needs pairs that start on even offsets
    z = torch.view_as_complex(pairs)  # x_2i + i x_2i+1                    (..., T, d_head/2)
    turn = torch.polar(torch.ones_like(angles), angles).to(z.dtype)  # e^(i a)
    return torch.view_as_real(z * turn).flatten(-2).to(x.dtype)  # (..., T, d_head)


class GroupedQueryAttention(nn.Module):
    """Causal self-attention with ``n_heads`` query heads sharing ``n_kv_heads`` key/value
    heads (query head h reads key/value head h // (n_heads / n_kv_heads)), rotary positions on
    queries and keys (``rotary=False``: none) and no biases. A time mixer for a block:
    ``forward(x, state=None, *, need_weights=False, is_causal=False) -> (out, extra)``.

    As :class:`~.attention.SelfAttention`: a causal call returns its key/value cache, each
    (B, n_kv_heads, t, d_head), and a call with ``state`` (a cache) continues after the cached
    positions (their rotations included); ``need_weights=True`` returns the weights
    (B, n_heads, T, t) instead. With ``n_kv_heads = n_heads`` and ``rotary=False`` it computes
    what a bias-free SelfAttention does with the same weights (a test copies them).
    """

    def __init__(self, d_model: int, n_heads: int, n_kv_heads: int | None = None, *,
                 rotary: bool = True, base: float = 10000.0, causal: bool = True) -> None:
        super().__init__()
        check_int("d_model", d_model, minimum=1)
        check_int("n_heads", n_heads, minimum=1)
        n_kv_heads = n_heads if n_kv_heads is None else check_int("n_kv_heads", n_kv_heads,
                                                                  minimum=1)
        if d_model % n_heads or n_heads % n_kv_heads:
            raise ValueError(f"need d_model divisible by n_heads and n_heads by n_kv_heads, got "
                             f"{d_model}, {n_heads} and {n_kv_heads}")
        self.d_model, self.n_heads, self.n_kv_heads = d_model, n_heads, n_kv_heads
        self.d_head = d_model // n_heads
        if rotary and self.d_head % 2:
            raise ValueError(f"rotary positions need an even head width, got {self.d_head}")
        self.rotary, self.base, self.causal = rotary, base, causal
        self.q_proj = nn.Linear(d_model, d_model, bias=False)  # W^Q
        self.kv_proj = nn.Linear(d_model, 2 * n_kv_heads * self.d_head, bias=False)  # W^K, W^V
        self.out_proj = nn.Linear(d_model, d_model, bias=False)  # W^O

    def heads(self, x: torch.Tensor, n: int) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, n, self.d_head).transpose(1, 2)  # (B, n, T, d_head)

    def forward(self, x: torch.Tensor, state: KVCache | None = None, *,
                need_weights: bool = False, is_causal: bool = False
                ) -> tuple[torch.Tensor, object]:
        check_tensor("x", x, ndim=3, dtype_kind="float")
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (B, T, {self.d_model}), got {tuple(x.shape)}")
        causal = is_causal or self.causal
        start = 0 if state is None else state[0].shape[2]  # positions already cached
        q = self.heads(self.q_proj(x), self.n_heads)  # (B, H, T, d_head)
        k, v = (self.heads(t, self.n_kv_heads)  # (B, G, T, d_head) each
                for t in self.kv_proj(x).split(self.n_kv_heads * self.d_head, dim=-1))
        if self.rotary:  # rotate by each position's angle: positions start .. start + T - 1
            angles = rotary_angles(torch.arange(start, start + x.shape[1]), self.d_head,
                                   base=self.base)  # float64, on the CPU (MPS has no float64)
            angles = angles.to(x.device, torch.float64 if x.dtype == torch.float64
                               else torch.float32)
            q, k = rotate(q, angles), rotate(k, angles)
        if state is not None:
            k, v = torch.cat([state[0], k], dim=2), torch.cat([state[1], v], dim=2)
        group = self.n_heads // self.n_kv_heads  # query heads per key/value head
        k_all, v_all = ((k, v) if group == 1 else  # each key/value head serves `group` queries
                        (k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)))
        T, t = q.shape[2], k.shape[2]
        # new position i (absolute t - T + i) may read every key up to itself
        mask = (torch.ones(T, t, dtype=torch.bool, device=x.device).tril(t - T)
                if causal and T > 1 else None)
        if need_weights:
            heads, weights = attention(q, k_all, v_all, mask)  # (B, H, T, d_head), (B, H, T, t)
        elif mask is not None and T == t:  # no cache: the fused kernel's own causal mask
            heads = F.scaled_dot_product_attention(q, k_all, v_all, is_causal=True)
        else:
            heads = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask)
        concat = heads.transpose(1, 2).reshape(x.shape[0], T, self.d_model)
        return self.out_proj(concat), (weights if need_weights else (k, v) if causal else None)


class ModernBlock(nn.Module):
    """A pre-norm decoder block of 2026: x = x + GQA(RMSNorm(x)), x = x + SwiGLU(RMSNorm(x)).
    (B, T, d_model) -> (B, T, d_model); ``forward(x, state=None, **options) -> (x, state)`` as
    :class:`~.block.Block` (the state is the attention's key/value cache)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, *, n_kv_heads: int | None = None,
                 base: float = 10000.0) -> None:
        super().__init__()
        self.mixer = GroupedQueryAttention(d_model, n_heads, n_kv_heads, base=base)
        self.norm1, self.norm2 = RMSNorm(d_model), RMSNorm(d_model)
        self.feed_forward = SwiGLU(d_model, d_ff)

    def forward(self, x: torch.Tensor, state: object = None, **options: object
                ) -> tuple[torch.Tensor, object]:
        read, state = self.mixer(self.norm1(x), state, **options)
        x = x + read  # x + GQA(RMSNorm(x))
        return x + self.feed_forward(self.norm2(x)), state  # x + SwiGLU(RMSNorm(x))


@dataclass
class ModernConfig:
    vocab_size: int = 65  # token ids in, embedded (no position is added: RoPE rotates q and k)
    d_model: int = 64  # width of every position's vector
    n_heads: int = 4  # query heads
    n_kv_heads: int = 2  # key/value heads, shared by n_heads / n_kv_heads query heads each
    n_layers: int = 2  # blocks
    d_ff: int = 172  # SwiGLU's hidden width (8/3 d_model: the 8 d_model^2 of a 4 d_model ReLU)
    rope_base: float = 10000.0  # theta_i = rope_base^(-2i / d_head)
    output_size: int = 65  # classes per prediction (the vocabulary, for a language model)
    readout: str = "all"  # "all": one prediction per step; "last"; "mean"
    loss: str = "cross_entropy"  # or "mse"

    def __post_init__(self) -> None:
        check_config(self)  # every size >= 1, d_model shared evenly by the heads
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads must be a multiple of n_kv_heads, got {self.n_heads} "
                             f"and {self.n_kv_heads}")
        if (self.d_model // self.n_heads) % 2:
            raise ValueError(f"rotary positions need an even head width d_model / n_heads, got "
                             f"{self.d_model} / {self.n_heads}")
        if not (isinstance(self.rope_base, int | float) and self.rope_base > 1):
            raise ValueError(f"rope_base must be a number above 1, got {self.rope_base!r}")
        check_choice("readout", self.readout, ("all", "last", "mean"))
        check_choice("loss", self.loss, ("mse", "cross_entropy"))


class ModernModel(BlockStack):
    """Token embedding -> ``n_layers`` :class:`ModernBlock` -> RMSNorm -> a bias-free readout:
    a causal language model. ``forward(x, targets) -> (out, loss)``; ``forward_cached(x,
    state)`` continues from ``state``, its key/value cache (one ``(k, v)`` per layer): feeding a
    sequence in pieces gives the outputs of one :meth:`forward` call."""

    state_name, entry = "cache", "(k, v)"

    def __init__(self, config: ModernConfig) -> None:
        if not isinstance(config, ModernConfig):
            raise TypeError(f"config must be a ModernConfig, got {type(config).__name__}")
        super().__init__(config, lambda: [
            ModernBlock(config.d_model, config.n_heads, config.d_ff, n_kv_heads=config.n_kv_heads,
                        base=config.rope_base) for _ in range(config.n_layers)],
            norm=RMSNorm, head_bias=False)

    def encode(self, x: torch.Tensor, need_weights: bool = False
               ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """The final states (B, T, d_model) and each block's attention weights (if asked)."""
        check_tensor("x", x, ndim=2, dtype_kind="int")
        h, weights = self.embed(x), []  # (B, T, d)
        for block in self.blocks:
            h, w = block(h, need_weights=need_weights)
            weights.append(w if need_weights else None)  # without weights, w is the cache
        return self.norm(h), weights


def cache_bytes_per_token(cache: list[KVCache]) -> float:
    """Bytes a decoder keeps per token of context in ``cache`` (one ``(k, v)`` per layer, each
    (B, heads, t, d_head), as :meth:`ModernModel.forward_cached` and the Transformer's
    ``forward_cached`` return it), per sequence of the batch."""
    if not cache or not all(isinstance(layer, tuple) and len(layer) == 2 for layer in cache):
        raise TypeError("cache must be a list of (k, v) pairs, one per layer")
    B, _, t, _ = cache[0][0].shape
    total = sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in cache)
    return total / (B * t)


def with_parameters(config: ModernConfig, parameters: int) -> ModernConfig:
    """``config`` with SwiGLU's hidden width ``d_ff`` chosen so that its model has
    ``parameters`` parameters, within one unit of ``d_ff`` (each unit costs every block
    3 d_model weights): how the 2026 block is raced against another at equal size."""
    check_int("parameters", parameters, minimum=1)

    def size(d_ff: int) -> int:
        with torch.random.fork_rng(devices=[]):  # counting draws no random numbers for later
            return count_parameters(ModernModel(dataclasses.replace(config, d_ff=d_ff)))

    per_unit = 3 * config.d_model * config.n_layers
    d_ff = max(1, config.d_ff + math.floor((parameters - size(config.d_ff)) / per_unit + 0.5))
    return dataclasses.replace(config, d_ff=d_ff)
