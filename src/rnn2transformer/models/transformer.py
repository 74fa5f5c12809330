"""The Transformer (Vaswani et al., 2017), small enough to read and to train on a laptop (ch. 7).

Pieces, each with the paper's names:

* :func:`sinusoidal_positions` (section 3.5): PE(pos, 2i) = sin(pos / 10000^(2i/d_model)),
  PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model)); or learned positions (an embedding).
* :class:`TransformerBlock`: multi-head self-attention and a position-wise feed-forward layer
  FFN(x) = max(0, x W_1 + b_1) W_2 + b_2 (a ReLU, as in chapter 1), each wrapped in a residual
  connection and layer normalisation: the book's one :class:`~.block.Block`, with attention as
  its time mixer. ``norm_first=False`` is the paper's order
  (x + sublayer, then norm); ``True`` normalises first, which trains more reliably in small
  budgets. ``residual=False`` and ``layer_norm=False`` remove either part, for chapter 7's
  ablation. Parameters are laid out as in ``torch.nn.TransformerEncoderLayer`` so weights copy.
* :class:`TransformerModel`: positions + blocks + a readout, for the same tasks as the recurrent
  models: float features or token ids in; one prediction per sequence (mean of the states) or
  per step out; ``causal=True`` for a decoder-only language model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .._checks import check_choice, check_int, check_tensor
from .attention import KVCache, SelfAttention, copy_attention_weights
from .block import Block
from .shared import check_config, readout


def sinusoidal_positions(
    T: int, d_model: int, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The (T, d_model) sinusoidal encoding: sin on even dimensions, cos on odd ones."""
    check_int("T", T, minimum=1)
    check_int("d_model", d_model, minimum=2)
    if d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    pos = torch.arange(T, dtype=torch.float64).unsqueeze(1)  # (T, 1)
    i = torch.arange(0, d_model, 2, dtype=torch.float64)  # 2i
    angle = pos / 10000 ** (i / d_model)  # pos / 10000^(2i / d_model)       (T, d/2)
    pe = torch.zeros(T, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.to(dtype)


def position_shift_matrix(k: int, d_model: int) -> torch.Tensor:
    """The fixed (d_model, d_model) matrix M_k with PE(pos + k) = M_k PE(pos) for every pos.

    One 2x2 rotation by angle k * omega_i per frequency omega_i = 10000^(-2i/d_model), which is
    why the paper expects relative positions to be easy to attend to. Float64.
    """
    check_int("k", k)  # any shift, backwards too; a float k would give no such identity
    check_int("d_model", d_model, minimum=2)
    if d_model % 2:
        raise ValueError(f"d_model must be even (sine and cosine pairs), got {d_model}")
    omega = 1.0 / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    m = torch.zeros(d_model, d_model, dtype=torch.float64)
    for j, w in enumerate(omega):
        c, s = math.cos(k * w), math.sin(k * w)
        # [sin(a + b), cos(a + b)] = [[cos b, sin b], [-sin b, cos b]] [sin a, cos a]
        m[2 * j : 2 * j + 2, 2 * j : 2 * j + 2] = torch.tensor([[c, s], [-s, c]],
                                                                dtype=torch.float64)
    return m


class TransformerBlock(Block):
    """The Transformer's block: :class:`.block.Block` with multi-head self-attention as its
    mixer. (B, T, d). ``forward(x, state=None, *, mask=None, need_weights=False,
    is_causal=False)`` (Block's, with the options passed to attention; ``state`` is a key/value
    cache, so a mask goes by name) returns the new ``x`` and the attention weights (if asked)
    or, for a causal call, the key/value cache.

    ``norm_first``: pre-norm (True, the package's default) or the paper's post-norm (False).
    ``residual`` and ``layer_norm``: keep the residual connections and the layer norms (both
    True except in chapter 7's ablation, which removes one or the other).
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, *, norm_first: bool = True,
                 residual: bool = True, layer_norm: bool = True) -> None:
        check_int("d_ff", d_ff, minimum=1)
        super().__init__(SelfAttention(d_model, n_heads), d_model, d_ff, norm_first=norm_first,
                         residual=residual, layer_norm=layer_norm)

    @property
    def self_attn(self) -> SelfAttention:
        """The mixer, under ``torch.nn.TransformerEncoderLayer``'s name for it."""
        return self.mixer

    def forward_cached(
        self, x: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """:meth:`forward` for new positions of a causal model, reusing cached keys/values."""
        return self(x, cache, is_causal=True)


def copy_layer_weights(source: nn.Module, target: nn.Module, *, ours: type, theirs: type,
                       attentions: tuple[str, ...] = ("self_attn",),
                       parts: tuple[str, ...] = ("linear1", "linear2", "norm1", "norm2")) -> None:
    """Copy weights between one of our layers (``ours``) and its torch counterpart (``theirs``),
    either way: the attention modules named in ``attentions`` and the submodules in ``parts``,
    which both name alike. The parity tests' weight copy for encoder and decoder blocks."""
    for module in (source, target):
        if not isinstance(module, ours | theirs):
            raise TypeError(f"expected {ours.__name__} or nn.{theirs.__name__}, got "
                            f"{type(module).__name__}")
    for name in attentions:
        copy_attention_weights(getattr(source, name), getattr(target, name))
    with torch.no_grad():
        for name in parts:
            getattr(target, name).load_state_dict(getattr(source, name).state_dict())


def copy_block_weights(source: nn.Module, target: nn.Module) -> None:
    """Copy weights between :class:`TransformerBlock` and ``torch.nn.TransformerEncoderLayer``."""
    copy_layer_weights(source, target, ours=TransformerBlock, theirs=nn.TransformerEncoderLayer)


@dataclass
class TransformerConfig:
    input_size: int = 2  # features per step (when vocab_size is None)
    vocab_size: int | None = None  # token ids in, embedded, or None for float features
    d_model: int = 64  # width of every position's vector
    n_heads: int = 4  # H
    n_layers: int = 2  # blocks
    d_ff: int = 256  # feed-forward width (the paper uses 4 d_model)
    max_len: int = 512  # longest sequence (learned positions; sinusoidal has no limit)
    positions: str = "sinusoidal"  # "sinusoidal", "learned" or "none"
    causal: bool = False  # True: position t sees only positions <= t (a decoder)
    output_size: int = 1  # 1 for regression, number of classes for cross-entropy
    readout: str = "mean"  # "mean": one prediction per sequence; "all": one per step
    loss: str = "mse"  # "mse" or "cross_entropy"
    norm_first: bool = True  # pre-norm blocks (False: the paper's post-norm)
    residual: bool = True  # residual connections around each sublayer (False: ablation only)
    layer_norm: bool = True  # layer normalisation in each block (False: ablation only)

    def __post_init__(self) -> None:
        check_config(self)  # every size >= 1, d_model shared evenly by the heads
        if self.vocab_size is not None:
            check_int("vocab_size", self.vocab_size, minimum=2)
        check_int("d_model", self.d_model, minimum=2)
        check_choice("positions", self.positions, ("sinusoidal", "learned", "none"))
        check_choice("readout", self.readout, ("mean", "last", "all"))
        check_choice("loss", self.loss, ("mse", "cross_entropy"))


class TransformerModel(nn.Module):
    """Input embedding + positions -> ``n_layers`` blocks -> readout. ``forward(x, targets)``."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise TypeError(f"config must be a TransformerConfig, got {type(config).__name__}")
        self.config = c = config
        self.embed = (nn.Embedding(c.vocab_size, c.d_model) if c.vocab_size
                      else nn.Linear(c.input_size, c.d_model))
        self.position = nn.Embedding(c.max_len, c.d_model) if c.positions == "learned" else None
        self.blocks = nn.ModuleList(
            TransformerBlock(c.d_model, c.n_heads, c.d_ff, norm_first=c.norm_first,
                             residual=c.residual, layer_norm=c.layer_norm)
            for _ in range(c.n_layers)
        )
        # pre-norm leaves the last block's sum unnormalised: one more norm before the readout
        self.norm = (nn.LayerNorm(c.d_model) if c.norm_first and c.layer_norm
                     else nn.Identity())
        self.head = nn.Linear(c.d_model, c.output_size)
        # The sinusoidal table, computed once and moved with the model (not saved: it is a
        # function of the config). Grown on demand, since sinusoidal positions have no limit.
        self.register_buffer(
            "sinusoidal_table",
            sinusoidal_positions(c.max_len, c.d_model) if c.positions == "sinusoidal" else None,
            persistent=False,
        )

    def encode(
        self, x: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """The final states (B, T, d_model) and each block's attention weights (if asked)."""
        c = self.config
        if c.vocab_size:
            check_tensor("x", x, ndim=2, dtype_kind="int")
        else:
            check_tensor("x", x, ndim=3, dtype_kind="float")
        T = x.shape[1]
        # No sqrt(d_model) factor: the paper needs it because its embeddings are shared with
        # the output layer and start small; nn.Embedding starts at N(0, 1) already.
        h = self.embed(x)  # (B, T, d)
        h = h + self.positions_for(0, T, h)
        weights = []
        for block in self.blocks:  # a causal model passes is_causal, never a built mask
            h, w = block(h, need_weights=need_weights, is_causal=c.causal)
            weights.append(w if need_weights else None)  # a causal block's w is its cache
        return self.norm(h), weights

    def positions_for(self, start: int, T: int, like: torch.Tensor) -> torch.Tensor | float:
        """The position encoding of positions ``start .. start + T - 1``, (T, d)."""
        c = self.config
        if c.positions == "sinusoidal":
            if start + T > self.sinusoidal_table.shape[0]:  # longer than ever: grow the table
                grown = sinusoidal_positions(2 * (start + T), c.d_model)
                self.sinusoidal_table = grown.to(self.sinusoidal_table.device)
            return self.sinusoidal_table[start : start + T].to(like.dtype)
        if c.positions == "learned":
            if start + T > c.max_len:
                raise ValueError(f"learned positions stop at max_len={c.max_len}, "
                                 f"got T={start + T}")
            return self.position(torch.arange(start, start + T, device=like.device))
        return 0.0

    @torch.no_grad()
    def forward_cached(
        self, x: torch.Tensor, cache: list[KVCache] | None = None
    ) -> tuple[torch.Tensor, list[KVCache]]:
        """Outputs for new positions ``x`` of a causal model, given the cache of the positions
        before them (None at the start); returns the outputs and the grown cache.

        Feeding a sequence in pieces gives the same outputs as one :meth:`forward` call.
        """
        if not self.config.causal or self.config.readout != "all":
            raise ValueError("forward_cached needs a causal model with readout='all'")
        start = 0 if cache is None else cache[0][0].shape[2]
        h = self.embed(x)
        h = h + self.positions_for(start, x.shape[1], h)
        new_cache = []
        for i, block in enumerate(self.blocks):
            h, layer_cache = block.forward_cached(h, None if cache is None else cache[i])
            new_cache.append(layer_cache)
        return self.head(self.norm(h)), new_cache

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        h, _ = self.encode(x)
        return readout(h, self.head, targets, self.config)
