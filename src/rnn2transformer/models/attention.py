"""Attention: every position looks at every other (chapter 6).

Scaled dot-product attention (Vaswani et al., 2017, eq. 1), with the paper's names:

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

:func:`attention` is the teaching version and returns the weights so they can be plotted;
:class:`MultiHeadAttention` projects queries, keys and values ``h`` times, attends in each head
and recombines. Its parameters are laid out as in ``torch.nn.MultiheadAttention`` (one input
projection of size 3 d_model, one output projection), so weights copy across and the two can be
compared. With ``need_weights=False`` it calls PyTorch's fused
``scaled_dot_product_attention``, the fast path, which never materialises the weights.

Masks follow PyTorch's convention: a boolean ``mask`` broadcastable to (..., T_q, T_k) where
True means "may attend". :func:`causal_mask` and :func:`padding_mask` build the two common ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_int, check_tensor
from .shared import check_config, copy_parameters, task_loss

KVCache = tuple[torch.Tensor, torch.Tensor]  # keys and values, each (B, H, t, d_k)


def causal_mask(T: int, *, window: int | None = None, device: torch.device | None = None
                ) -> torch.Tensor:
    """(T, T) boolean: position i may attend to positions j <= i; with a ``window`` W, only to
    the last W of them, i - W < j <= i (sliding-window attention, chapter 7)."""
    check_int("T", T, minimum=1)
    keep = torch.ones(T, T, dtype=torch.bool, device=device).tril()
    if window is None:
        return keep
    check_int("window", window, minimum=1)
    return keep.triu(-(window - 1))  # drop j <= i - W


def padding_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(B, 1, 1, T) boolean from sequence lengths: keys beyond a sequence's length are hidden."""
    check_tensor("lengths", lengths, ndim=1, dtype_kind="int")
    if (lengths < 1).any() or (lengths > T).any():
        raise ValueError(f"lengths must be in [1, {T}], got {lengths.tolist()}")
    keep = torch.arange(T, device=lengths.device) < lengths.unsqueeze(1)  # (B, T)
    return keep[:, None, None, :]


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention: ``(out, weights)``.

    ``q`` is (..., T_q, d_k), ``k`` (..., T_k, d_k), ``v`` (..., T_k, d_v); ``out`` is
    (..., T_q, d_v) and ``weights`` (..., T_q, T_k), each row a distribution over the keys.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(name, t, dtype_kind="float")
        if t.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., T, d), got shape "
                             f"{tuple(t.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"q (..., T_q, d_k), k (..., T_k, d_k) and v (..., T_k, d_v) must agree, got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # QK^T / sqrt(d_k)      (..., T_q, T_k)
    if mask is not None:
        check_tensor("mask", mask)
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be a bool tensor (True where a query may read a key), "
                            f"got {mask.dtype}")
        try:
            torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            raise ValueError(f"mask must broadcast to the scores' shape (..., T_q, T_k) = "
                             f"{tuple(scores.shape)}, got {tuple(mask.shape)}") from None
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # each row sums to 1
    return weights @ v, weights  # (..., T_q, d_v), (..., T_q, T_k)


class MultiHeadAttention(nn.Module):
    """``h`` heads of attention over projections of size ``d_k = d_model / h``.

    ``forward(query, key, value, mask=None, need_weights=True) -> (out, weights)`` with inputs
    (B, T, d_model); ``weights`` is (B, H, T_q, T_k), or None on the fused path.
    """

    def __init__(self, d_model: int, n_heads: int, *, bias: bool = True) -> None:
        super().__init__()
        check_int("d_model", d_model, minimum=1)
        check_int("n_heads", n_heads, minimum=1)
        if d_model % n_heads:
            raise ValueError(f"d_model must be divisible by n_heads, got {d_model} and {n_heads}")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)  # W^Q, W^K, W^V stacked
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)  # W^O
        nn.init.xavier_uniform_(self.in_proj.weight)  # as torch.nn.MultiheadAttention
        if bias:
            nn.init.zeros_(self.in_proj.bias)
            nn.init.zeros_(self.out_proj.bias)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_k).transpose(1, 2)  # (B, H, T, d_k)

    def project(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q W^Q, K W^K, V W^V, each split into heads (B, H, T, d_k).

        Self-attention (one input for all three) takes one matrix product with the stacked
        weight instead of three: the same numbers, a third of the kernel launches.
        """
        if key is query and value is query:
            q, k, v = self.in_proj(query).split(self.d_model, dim=-1)
        else:
            w_q, w_k, w_v = self.in_proj.weight.chunk(3)
            b_q, b_k, b_v = (self.in_proj.bias.chunk(3) if self.in_proj.bias is not None
                             else (None, None, None))
            q, k, v = F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)
        return self.split_heads(q), self.split_heads(k), self.split_heads(v)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        need_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``is_causal=True`` is the causal mask, built only where the weights are kept
        (``need_weights=True``); on the fused path it is not built, and the kernel skips the
        hidden half of the scores (flash attention on a GPU)."""
        check_tensor("query", query, ndim=3, dtype_kind="float")
        key = query if key is None else key
        value = key if value is None else value
        if query.shape[-1] != self.d_model:
            raise ValueError(
                f"query must have shape (B, T, {self.d_model}), got {tuple(query.shape)}"
            )
        if is_causal and query.shape[1] != key.shape[1]:
            raise ValueError("is_causal needs as many queries as keys, got "
                             f"{query.shape[1]} and {key.shape[1]}")
        q, k, v = self.project(query, key, value)  # (B, H, T, d_k) each
        if need_weights:
            if is_causal:
                causal = causal_mask(q.shape[2], device=q.device)
                mask = causal if mask is None else mask & causal
            heads, weights = attention(q, k, v, mask)
        elif is_causal and mask is not None:  # both: one boolean mask for the kernel
            causal = causal_mask(q.shape[2], device=q.device)
            heads = F.scaled_dot_product_attention(q, k, v, attn_mask=mask & causal)
            weights = None
        else:  # the fused kernel (flash / memory-efficient on a GPU); no weights to return
            heads = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)
            weights = None
        B, H, T, d_k = heads.shape
        concat = heads.transpose(1, 2).reshape(B, T, H * d_k)  # Concat(head_1..head_h)
        return self.out_proj(concat), weights  # (B, T_q, d_model)

    def forward_cached(
        self, x: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """Causal self-attention for new positions ``x`` (B, T_new, d) that also attend to the
        keys and values cached from earlier positions; returns the output and the grown cache.

        This is how a decoder generates one token at a time without recomputing the past: the
        cache holds (B, H, t, d_k) keys and values and grows by one position per token.
        """
        q, k, v = self.project(x, x, x)  # (B, H, T_new, d_k) each
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)  # (B, H, t + T_new, d_k)
            v = torch.cat([cache[1], v], dim=2)
        T_new, T_all = q.shape[2], k.shape[2]
        if T_new == 1:  # one new token reads every key: no mask at all
            heads = F.scaled_dot_product_attention(q, k, v)
        elif T_new == T_all:  # no cache yet: the plain causal case
            heads = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # new position i (absolute T_all - T_new + i) may read every key up to itself
            mask = torch.ones(T_new, T_all, dtype=torch.bool, device=x.device).tril(T_all - T_new)
            heads = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        B, H, T, d_k = heads.shape
        return self.out_proj(heads.transpose(1, 2).reshape(B, T, H * d_k)), (k, v)


class SelfAttention(MultiHeadAttention):
    """Multi-head self-attention as a block's time mixer (:class:`.block.Block`):
    ``forward(x, state=None, *, mask, need_weights, is_causal) -> (out, extra)``.

    A causal layer's state is its key/value cache, as a recurrent layer's is its last state: a
    causal call returns the cache of every position it saw, and a call with ``state`` (a cache)
    continues after the cached positions. ``need_weights=True`` returns the weights instead
    (the teaching path), and a non-causal call returns None beside its output.
    ``causal=True`` at construction makes every call causal.
    """

    def __init__(self, d_model: int, n_heads: int, *, causal: bool = False,
                 bias: bool = True) -> None:
        super().__init__(d_model, n_heads, bias=bias)
        self.causal = causal

    def forward(self, x: torch.Tensor, state: KVCache | None = None, *,
                mask: torch.Tensor | None = None, need_weights: bool = False,
                is_causal: bool = False) -> tuple[torch.Tensor, object]:
        check_tensor("x", x, ndim=3, dtype_kind="float")
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (B, T, {self.d_model}), got {tuple(x.shape)}")
        causal = is_causal or self.causal
        if state is not None or (causal and mask is None and not need_weights):
            return self.forward_cached(x, state)  # the fused causal kernel, keeping K and V
        return super().forward(x, mask=mask, need_weights=need_weights, is_causal=causal)


def copy_attention_weights(source: nn.Module, target: nn.Module) -> None:
    """Copy weights between :class:`MultiHeadAttention` and ``torch.nn.MultiheadAttention``."""

    def params(module: nn.Module) -> dict[str, torch.Tensor]:
        if isinstance(module, MultiHeadAttention):
            return {"in_w": module.in_proj.weight, "in_b": module.in_proj.bias,
                    "out_w": module.out_proj.weight, "out_b": module.out_proj.bias}
        if isinstance(module, nn.MultiheadAttention):
            if not module._qkv_same_embed_dim:
                raise ValueError("only an nn.MultiheadAttention with kdim = vdim = embed_dim")
            return {"in_w": module.in_proj_weight, "in_b": module.in_proj_bias,
                    "out_w": module.out_proj.weight, "out_b": module.out_proj.bias}
        raise TypeError("expected MultiHeadAttention or torch.nn.MultiheadAttention, got "
                        f"{type(module).__name__}")

    copy_parameters(params(source), params(target))


@dataclass
class AlignConfig:
    vocab_size: int = 16  # V, input and output tokens
    max_len: int = 12  # T, positions in and out (every sequence has this length)
    d_model: int = 64  # width of embeddings and attention
    n_heads: int = 1  # one head: one alignment to look at

    def __post_init__(self) -> None:
        check_config(self)


class AlignmentModel(nn.Module):
    """The smallest model with cross-attention (no recurrent encoder or decoder state, so not an
    encoder-decoder): each output position asks a learned query which input positions to read,
    then predicts a token from what it read.

    Encoder: token + position embeddings of the input, (B, T, d). Decoder: one learned query per
    output position attends over the encoded input (cross-attention), then a linear layer
    predicts the token. ``forward(x, targets) -> (logits, loss)``; :meth:`attend` also returns
    the attention weights (B, H, T_out, T_in).
    """

    def __init__(self, config: AlignConfig) -> None:
        super().__init__()
        self.config = c = config
        self.token = nn.Embedding(c.vocab_size, c.d_model)
        self.position = nn.Embedding(c.max_len, c.d_model)
        self.queries = nn.Parameter(torch.randn(c.max_len, c.d_model) * 0.5)
        self.cross = MultiHeadAttention(c.d_model, c.n_heads)
        self.head = nn.Linear(c.d_model, c.vocab_size)

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_tensor("x", x, ndim=2, dtype_kind="int")
        B, T = x.shape
        if T != self.config.max_len:
            raise ValueError(f"x must have shape (B, {self.config.max_len}), got {tuple(x.shape)}")
        memory = self.token(x) + self.position(torch.arange(T, device=x.device))  # (B, T, d)
        queries = self.queries.expand(B, -1, -1)  # (B, T, d)
        read, weights = self.cross(queries, memory, memory)  # (B, T, d), (B, H, T, T)
        return self.head(read), weights  # (B, T, V)

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits, _ = self.attend(x)
        return logits, None if targets is None else task_loss(logits, targets, "cross_entropy")


@dataclass
class AttentionLMConfig:
    vocab_size: int = 65  # V
    max_len: int = 64  # longest sequence (learned positions)
    d_model: int = 64
    n_heads: int = 4

    def __post_init__(self) -> None:
        check_config(self)


class AttentionLM(nn.Module):
    """A one-layer, attention-only character model: each position attends (causally) to the
    characters before it and predicts the next one. No feed-forward layer, no stacking: the
    Transformer of chapter 7 adds those. ``forward(x, targets) -> (logits, loss)``."""

    def __init__(self, config: AttentionLMConfig) -> None:
        super().__init__()
        self.config = c = config
        self.token = nn.Embedding(c.vocab_size, c.d_model)
        self.position = nn.Embedding(c.max_len, c.d_model)
        self.attn = MultiHeadAttention(c.d_model, c.n_heads)
        self.head = nn.Linear(c.d_model, c.vocab_size)

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_tensor("x", x, ndim=2, dtype_kind="int")  # token ids (B, T)
        T = x.shape[1]
        if T > self.config.max_len:
            raise ValueError(f"sequences may be at most {self.config.max_len} long, got {T}")
        h = self.token(x) + self.position(torch.arange(T, device=x.device))  # (B, T, d)
        read, weights = self.attn(h, is_causal=True)
        return self.head(h + read), weights  # residual: the token itself plus what it read

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits, _ = self.attend(x)
        return logits, None if targets is None else task_loss(logits, targets, "cross_entropy")
