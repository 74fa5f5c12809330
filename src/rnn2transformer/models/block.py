"""One block for every time mixer (chapters 7, 10 and 11).

A Transformer block is two sublayers, each wrapped in a residual connection and a layer norm:
a *time mixer*, the only part that moves information between positions, and a position-wise
feed-forward layer FFN(x) = max(0, x W_1 + b_1) W_2 + b_2. Pre-norm (the package's default):

    x = x + Mixer(LN(x)),   x = x + FFN(LN(x))

and the paper's post-norm, x = LN(x + Mixer(x)), x = LN(x + FFN(x)). Swap the mixer and the
same block is every model of the book's last chapters: self-attention (the Transformer,
:mod:`.transformer`), minGRU or minLSTM (:mod:`.linear_rnn`), an LSTM, linear attention or the
delta rule (:mod:`.matrix_state`), and a stack whose layers hold different mixers is a hybrid
(:mod:`.hybrid`). :class:`BlockStack` is the language model around a stack of blocks that the
linear-recurrent, hybrid and modern models share: embedding, blocks, a norm, readout.

A mixer is any module with ``forward(x, state=None, **options) -> (out, state)`` over
``x`` of shape (B, T, d): ``state`` is what it carries from one token to the next (a
recurrent layer's last state, attention's key/value cache), None at the start. ``options``
are passed through (attention's ``mask``, ``need_weights``, ``is_causal``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from .._checks import check_int, check_tensor
from .shared import readout, through_layers


class Block(nn.Module):
    """``mixer`` and a feed-forward layer of width ``d_ff``, each in a residual connection and a
    layer norm. (B, T, d_model) -> (B, T, d_model).

    ``norm_first``: pre-norm (True) or the paper's post-norm (False). ``residual`` and
    ``layer_norm``: keep the residual connections and the layer norms (both True except in
    chapter 7's ablation, which removes one or the other). The parameters are named as in
    ``torch.nn.TransformerEncoderLayer`` (``linear1``, ``linear2``, ``norm1``, ``norm2``).
    """

    def __init__(self, mixer: nn.Module, d_model: int, d_ff: int, *, norm_first: bool = True,
                 residual: bool = True, layer_norm: bool = True) -> None:
        super().__init__()
        if not isinstance(mixer, nn.Module):
            raise TypeError(f"mixer must be a torch.nn.Module, got {type(mixer).__name__}")
        check_int("d_model", d_model, minimum=1)
        check_int("d_ff", d_ff, minimum=1)
        self.norm_first, self.residual = norm_first, residual
        self.mixer = mixer
        self.linear1 = nn.Linear(d_model, d_ff)  # W_1, b_1
        self.linear2 = nn.Linear(d_ff, d_model)  # W_2, b_2
        self.norm1 = nn.LayerNorm(d_model) if layer_norm else nn.Identity()
        self.norm2 = nn.LayerNorm(d_model) if layer_norm else nn.Identity()

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(torch.relu(self.linear1(x)))  # max(0, x W_1 + b_1) W_2 + b_2

    def forward(self, x: torch.Tensor, state: object = None, **options: object
                ) -> tuple[torch.Tensor, object]:
        """The block over ``x`` from the mixer's ``state``; returns the new ``x`` and what the
        mixer returned beside its output (its state, or attention's weights if asked)."""
        def add(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
            return x + f if self.residual else f

        if self.norm_first:
            read, state = self.mixer(self.norm1(x), state, **options)
            x = add(x, read)  # x + Mixer(LN(x))
            x = add(x, self.feed_forward(self.norm2(x)))  # x + FFN(LN(x))
        else:
            read, state = self.mixer(x, state, **options)
            x = self.norm1(add(x, read))  # LN(x + Mixer(x))
            x = self.norm2(add(x, self.feed_forward(x)))  # LN(x + FFN(x))
        return x, state


class BlockStack(nn.Module):
    """Embedding -> the blocks ``make_blocks()`` returns -> ``norm`` (a layer norm) -> linear
    head: the language model around a stack of blocks (:mod:`.linear_rnn`, :mod:`.hybrid`, and
    :mod:`.modern` with RMSNorm and a head without bias). ``config`` gives ``vocab_size``,
    ``d_model``, ``output_size``, ``readout`` and ``loss``.

    ``forward(x, targets) -> (out, loss)`` like every task model of the book;
    ``forward_from(x, state)`` continues from ``state``, one entry per layer (what each mixer
    carries), and ``forward_cached`` is the same without gradients, for generation.
    """

    state_name, entry = "state", "entry"  # how an error about the state names it and its entries

    def __init__(self, config: object, make_blocks: Callable[[], Iterable[nn.Module]], *,
                 norm: Callable[[int], nn.Module] = nn.LayerNorm, head_bias: bool = True) -> None:
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        # The blocks are made after the embedding and before the head, so a seeded model draws
        # its initial weights in this order (the book's figures depend on it).
        self.blocks = nn.ModuleList(make_blocks())
        self.norm = norm(c.d_model)
        self.head = nn.Linear(c.d_model, c.output_size, bias=head_bias)

    def forward_from(self, x: torch.Tensor, state: list | None = None
                     ) -> tuple[torch.Tensor, list]:
        """Outputs for ``x`` (B, T) of ids from ``state`` (None: every layer starts empty), and
        the state after the last token: one entry per layer."""
        check_tensor("x", x, ndim=2, dtype_kind="int")
        h, new_state = through_layers(self.blocks, self.embed(x), state, name=self.state_name,
                                      entry=self.entry)
        return self.head(self.norm(h)), new_state

    @torch.no_grad()
    def forward_cached(self, x: torch.Tensor, state: list | None = None
                       ) -> tuple[torch.Tensor, list]:
        """:meth:`forward_from` without gradients, for generation one token at a time."""
        return self.forward_from(x, state)

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        check_tensor("x", x, ndim=2, dtype_kind="int")
        h = self.embed(x)
        for block in self.blocks:
            h, _ = block(h)
        return readout(self.norm(h), self.head, targets, self.config)
