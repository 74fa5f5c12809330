"""A stack whose layers may hold different time mixers: the hybrid (chapter 11).

Every model of the book's last chapters is one :class:`~.block.Block` repeated: a time mixer
and a feed-forward layer, each in a residual connection and a layer norm. This file builds the
stack from a list of mixer names, one per layer, so the same code is a Transformer
(``["attention", "attention"]``), a linear-recurrent model (``["deltanet", "deltanet"]``) or a
hybrid (``["deltanet", "attention"]``: a recurrent layer, then attention, the pattern of
Jamba, Nemotron-H, Qwen3-Next and Kimi Linear, at the ratio the config gives).

The mixers (:data:`MIXERS`):

==================== ================================================================
``attention``        causal softmax self-attention (chapter 7); its state is the key/value
                     cache, which grows by one position per token
``lstm``             an LSTM layer (chapter 4): a vector state (h, c), nonlinear in the state
``mingru``           minGRU (chapter 10): a vector state, linear in the state, its decay
                     a_t in (0, 1); ``mingru_signed`` lets a_t reach (-1, 1)
``linear_attention`` linear attention (chapter 11): a matrix state written additively
``deltanet``         the delta rule (chapter 11): a matrix state that erases before it writes;
                     ``deltanet_signed`` lets beta reach (0, 2), a negative eigenvalue
``gated_deltanet``   the delta rule with a learned decay (Gated DeltaNet)
==================== ================================================================

``short_conv`` (width 4 by default; None for none) puts a causal depthwise convolution in
front of every mixer, as Mamba, DeltaNet and their relatives do before their recurrences: it
hands each position its few neighbours, so a key and the value that follows it arrive at the
mixer together. No position encoding: the recurrences and the convolution know the order,
and a causal attention layer learns it from them (an attention-only stack has the
convolution too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .._checks import check_choice, check_int
from .attention import SelfAttention
from .block import Block, BlockStack
from .linear_rnn import MinGRU
from .matrix_state import DeltaNet, LinearAttention, ShortConv, state_size
from .shared import check_config

MIXERS = ("attention", "lstm", "mingru", "mingru_signed", "linear_attention", "deltanet",
          "deltanet_signed", "gated_deltanet")


class LSTMMixer(nn.Module):
    """PyTorch's fused LSTM as a time mixer: ``forward(x, state=None) -> (out, (h, c))`` over
    (B, T, d), the state without torch's layer dimension."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(d, d, batch_first=True)

    def forward(self, x: torch.Tensor, state: tuple | None = None) -> tuple[torch.Tensor, tuple]:
        if state is not None:
            state = tuple(s.unsqueeze(0) for s in state)
        out, (h, c) = self.lstm(x, state)
        return out, (h[0], c[0])


class Convolved(nn.Module):
    """A short causal convolution, then a mixer: ``forward(x, state=None) -> (out, state)``
    with the state ``(convolution's, mixer's)``, so one step at a time still works."""

    def __init__(self, conv: ShortConv, mixer: nn.Module) -> None:
        super().__init__()
        self.conv, self.mixer = conv, mixer

    def forward(self, x: torch.Tensor, state: tuple | None = None, **options: object
                ) -> tuple[torch.Tensor, tuple]:
        conv_state, mixer_state = (None, None) if state is None else state
        x, conv_state = self.conv(x, conv_state)
        out, mixer_state = self.mixer(x, mixer_state, **options)
        return out, (conv_state, mixer_state)


def make_mixer(name: str, d_model: int, *, n_heads: int = 1, d_key: int | None = None,
               chunk: int = 64) -> nn.Module:
    """The time mixer ``name`` (:data:`MIXERS`) at width ``d_model``: ``n_heads`` heads for
    attention and the matrix states, ``d_key`` the matrix states' key width (default
    d_model / n_heads), ``chunk`` their chunk length in training."""
    check_choice("name", name, MIXERS)
    if name == "attention":
        return SelfAttention(d_model, n_heads, causal=True)
    if name == "lstm":
        return LSTMMixer(d_model)
    if name.startswith("mingru"):
        return MinGRU(d_model, d_model, signed=name == "mingru_signed")
    if name == "linear_attention":
        return LinearAttention(d_model, n_heads, d_key, chunk=chunk)
    return DeltaNet(d_model, n_heads, d_key, gated=name == "gated_deltanet",
                    negative_eigenvalues=name == "deltanet_signed", chunk=chunk)


@dataclass
class HybridConfig:
    layers: list[str] = field(default_factory=lambda: ["deltanet", "attention"])  # mixers
    vocab_size: int = 40  # token ids in, embedded
    d_model: int = 64  # width of every position's vector
    n_heads: int = 1  # heads of the attention and matrix-state mixers
    d_key: int | None = None  # the matrix states' key width (default d_model / n_heads)
    d_ff: int = 256  # feed-forward width
    short_conv: int | None = 4  # width of the causal convolution before every mixer (None: none)
    chunk: int = 64  # the matrix states' chunk length in training
    output_size: int = 40  # classes per prediction
    readout: str = "all"  # "all": one prediction per step; "last": from the last step
    loss: str = "cross_entropy"

    def __post_init__(self) -> None:
        check_config(self)
        if not isinstance(self.layers, list | tuple) or not self.layers:
            raise ValueError(f"layers must be a non-empty list of mixer names, got "
                             f"{self.layers!r}")
        for name in self.layers:
            check_choice("layers", name, MIXERS)
        if self.d_key is not None:
            check_int("d_key", self.d_key, minimum=1)
        if self.short_conv is not None:
            check_int("short_conv", self.short_conv, minimum=2)
        check_choice("readout", self.readout, ("all", "last"))
        check_choice("loss", self.loss, ("mse", "cross_entropy"))


def hybrid_layer(name: str, c: HybridConfig) -> Block:
    """One layer of a hybrid: the mixer ``name`` (behind a short convolution where ``c`` asks
    for one) in a :class:`~.block.Block`."""
    mixer = make_mixer(name, c.d_model, n_heads=c.n_heads, d_key=c.d_key, chunk=c.chunk)
    if c.short_conv:
        mixer = Convolved(ShortConv(c.d_model, c.short_conv), mixer)
    return Block(mixer, c.d_model, c.d_ff)


class HybridModel(BlockStack):
    """Embedding -> one :class:`~.block.Block` per entry of ``config.layers`` -> layer norm ->
    readout. ``forward(x, targets) -> (out, loss)``; ``forward_cached(x, state)`` continues
    from a state that holds one entry per layer (a recurrent layer's fixed-size state, an
    attention layer's growing cache)."""

    def __init__(self, config: HybridConfig) -> None:
        if not isinstance(config, HybridConfig):
            raise TypeError(f"config must be a HybridConfig, got {type(config).__name__}")
        super().__init__(config, lambda: [hybrid_layer(name, config) for name in config.layers])

    def carried_numbers(self, position: int) -> int:
        """Numbers this model carries per sequence from token ``position`` to the next: each
        recurrent layer's fixed state (and its convolution's), and each attention layer's
        cache of keys and values, 2 d_model numbers for every token so far."""

        check_int("position", position, minimum=1)
        total = 0
        for block in self.blocks:
            mixer = block.mixer.mixer if isinstance(block.mixer, Convolved) else block.mixer
            if isinstance(block.mixer, Convolved):
                total += state_size(block.mixer.conv)
            if isinstance(mixer, SelfAttention):
                total += 2 * self.config.d_model * position
            elif isinstance(mixer, LSTMMixer):
                total += 2 * self.config.d_model
            elif isinstance(mixer, MinGRU):
                total += self.config.d_model
            else:
                total += state_size(mixer)
        return total
