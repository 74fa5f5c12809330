"""Count n-gram language models: the baselines every neural language model in the book is
read against.

An order-``n`` model predicts a token from the ``n - 1`` tokens before it by counting, in the
training text, how often each token followed each context. Two ways turn the counts into
probabilities that leave room for what the training text never showed.

``smoothing="add_alpha"`` (the default) adds ``alpha`` to every count, so an unseen pair is
unlikely but not impossible::

    P(x_t | h) = (c(h, x_t) + alpha) / (c(h) + alpha V)

where ``h`` is the context ``x_{t-n+1} .. x_{t-1}``, ``c(h, x_t)`` how often ``x_t`` followed
it and ``c(h)`` how often it was followed by anything.

``smoothing="witten_bell"`` is interpolated Witten-Bell smoothing (Witten and Bell 1991; Chen
and Goodman 1999 compare it with the other smoothing methods). It mixes each order with the
one below it, recursively::

    P_WB(w | h) = (c(h, w) + N1+(h .) P_WB(w | h')) / (c(h) + N1+(h .))

where ``h'`` is ``h`` without its oldest token and ``N1+(h .)`` the number of distinct tokens
seen after ``h``. A context never seen in training leaves the prediction to ``h'`` entirely.
The recursion ends at the unigram, which is itself mixed the same way with the uniform
distribution ``1 / V`` (so a token never seen in training keeps a small probability).

Why it is a fair bar: add-alpha holds back the same pseudo-count ``alpha V`` in every
context, however varied its continuations, and spreads it evenly over all ``V`` tokens, as if
the shorter contexts knew nothing. Witten-Bell trusts a context in proportion to how many
different continuations it has shown: one always followed by the same letter keeps almost all
the mass for that letter, one followed by many different letters hands a larger share to the
shorter context, and that share is spread the way the shorter context predicts. On the book's
Shakespeare split this is the difference between a 5-gram that gains nothing over the 4-gram
(add-alpha, 2.52 bits per character for both) and one that gains 0.17 bits (Witten-Bell,
2.47 to 2.30), so "a neural model beat the count 4-gram" is measured against a count model
that uses its counts well.

Order 1 is the letter-frequency model (no context), order 2 the bigram, order 3 the trigram.
A neural model that ends at the trigram's bits per character has learned about what counting
three-letter sequences learns; one below it has learned more. Chapter 2 introduced n-grams as
features; here they are models.

The counts are sparse: every context of ``k`` tokens is one int64 number in base ``V`` (the
oldest token the most significant digit), and each order keeps only the sorted codes that
occur, looked up with a binary search, so the memory grows with the text, not with ``V^n``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .._checks import check_choice, check_float, check_int

MAX_ORDER = 10  # sparse counts: the limit is the int64 code, vocab_size ** order < 2 ** 63
SMOOTHINGS = ("add_alpha", "witten_bell")
_INT64_LIMIT = 2**63


class _Level(NamedTuple):
    """The counts of one context length ``k``: sorted unique (context, token) codes
    ``context * V + token`` with their counts, and sorted unique context codes with ``c(h)``
    (how often the context was followed by a token) and ``N1+(h .)`` (by how many distinct
    tokens)."""

    pairs: np.ndarray
    pair_counts: np.ndarray
    contexts: np.ndarray
    totals: np.ndarray
    types: np.ndarray


class NgramLM:
    """An order-``order`` count model over ids ``0 .. vocab_size - 1``: ``fit`` counts, then
    ``bits_per_token`` scores a text and ``next_token_probs`` gives the distribution after a
    context. ``smoothing`` is ``"add_alpha"`` (with ``alpha``) or ``"witten_bell"`` (which
    ignores ``alpha``); see the module docstring for both."""

    def __init__(self, order: int, vocab_size: int, *, alpha: float = 0.1,
                 smoothing: str = "add_alpha") -> None:
        self.order = check_int("order", order, minimum=1)
        if order > MAX_ORDER:
            raise ValueError(f"order must be at most {MAX_ORDER}, got {order}")
        self.vocab_size = check_int("vocab_size", vocab_size, minimum=2)
        if vocab_size**order >= _INT64_LIMIT:
            raise ValueError(f"vocab_size ** order must be below 2 ** 63 (contexts are int64 "
                             f"codes in base vocab_size), got {vocab_size} ** {order}")
        self.alpha = check_float("alpha", alpha, minimum=0.0, strict_minimum=True)
        self.smoothing = check_choice("smoothing", smoothing, SMOOTHINGS)
        self.levels: list[_Level] | None = None  # levels[k]: the counts of contexts of k tokens

    def fit(self, ids: torch.Tensor | np.ndarray) -> NgramLM:
        """Count every (context, next token) pair of ``ids`` (a 1-D sequence of ids), for every
        context length ``0 .. order - 1`` (each from all the positions that have it)."""
        ids = _as_ids(ids, self.vocab_size)
        if len(ids) < self.order:
            raise ValueError(f"ids must hold at least order = {self.order} tokens, got {len(ids)}")
        V = self.vocab_size
        self.levels = []
        for k in range(self.order):
            context, target = _codes(ids, k + 1, V)
            pairs, pair_counts = np.unique(context * V + target, return_counts=True)
            contexts, starts, types = np.unique(pairs // V, return_index=True,
                                                return_counts=True)
            totals = np.add.reduceat(pair_counts, starts)
            self.levels.append(_Level(pairs, pair_counts.astype(np.int64), contexts,
                                      totals.astype(np.int64), types.astype(np.int64)))
        return self

    def truncated(self, order: int) -> NgramLM:
        """The fitted model of a lower ``order`` (same smoothing), sharing these counts: the
        same as fitting that order on the same text, without counting again."""
        levels = self._fitted()
        check_int("order", order, minimum=1)
        if order > self.order:
            raise ValueError(f"order must be at most this model's {self.order}, got {order}")
        model = NgramLM(order, self.vocab_size, alpha=self.alpha, smoothing=self.smoothing)
        model.levels = levels[:order]
        return model

    def bits_per_token(self, ids: torch.Tensor | np.ndarray, *, skip: int = 0) -> float:
        """Mean cross-entropy in bits of the tokens of ``ids`` after the first ``skip`` (at
        least ``order - 1``, so every scored token has its full context; pass the largest order
        you compare to score the same tokens with every order)."""
        self._fitted()
        ids = _as_ids(ids, self.vocab_size)
        skip = max(check_int("skip", skip, minimum=0), self.order - 1)
        if len(ids) <= skip:
            raise ValueError(f"ids must hold more than {skip} tokens, got {len(ids)}")
        context, target = _codes(ids, self.order, self.vocab_size)
        context, target = context[skip - self.order + 1 :], target[skip - self.order + 1 :]
        return float(-np.mean(np.log2(self._probs(context, target))))

    def next_token_probs(self, context: torch.Tensor | np.ndarray) -> np.ndarray:
        """The model's distribution over the ``vocab_size`` next tokens (float64, sums to 1)
        after ``context``, a 1-D sequence of ids of which the last ``order - 1`` are used."""
        self._fitted()
        context = _as_ids(context, self.vocab_size)
        need = self.order - 1
        if len(context) < need:
            raise ValueError(f"context must hold at least order - 1 = {need} tokens, got "
                             f"{len(context)}")
        code = 0
        for token in context[len(context) - need :]:
            code = code * self.vocab_size + int(token)
        codes = np.full(self.vocab_size, code, dtype=np.int64)
        return self._probs(codes, np.arange(self.vocab_size, dtype=np.int64))

    def _fitted(self) -> list[_Level]:
        if self.levels is None:
            raise ValueError("fit the model before scoring with it")
        return self.levels

    def _probs(self, context: np.ndarray, target: np.ndarray) -> np.ndarray:
        """P(target | context) for arrays of full-context codes and next tokens."""
        levels, V = self._fitted(), self.vocab_size
        if self.smoothing == "add_alpha":
            top = levels[self.order - 1]
            seen = _lookup(top.pairs, top.pair_counts, context * V + target) + self.alpha
            total = _lookup(top.contexts, top.totals, context) + self.alpha * V
            return seen / total
        probs = np.full(len(target), 1.0 / V)
        for k, level in enumerate(levels):  # from the unigram (k = 0) up to the full context
            h = context % V**k  # the last k tokens: drop the more significant (older) digits
            c_h = _lookup(level.contexts, level.totals, h)
            n1 = _lookup(level.contexts, level.types, h)
            c_hw = _lookup(level.pairs, level.pair_counts, h * V + target)
            mixed = (c_hw + n1 * probs) / np.maximum(c_h + n1, 1)
            probs = np.where(c_h > 0, mixed, probs)  # an unseen context defers to h'
        return probs


def ngram_baselines(train_ids: torch.Tensor | np.ndarray, val_ids: torch.Tensor | np.ndarray,
                    vocab_size: int, *, orders: tuple[int, ...] = (1, 2, 3),
                    alpha: float = 0.1, smoothing: str = "add_alpha") -> dict[str, float]:
    """Bits per token of count models of each order (1 .. ``MAX_ORDER``), fitted on
    ``train_ids`` and scored on the same tokens of ``val_ids`` (those after the largest
    order's context). Keys ``unigram``, ``bigram``, ``trigram``, ``4-gram``, ``5-gram``, ...
    The counts are made once, for the largest order; each lower order uses its share."""
    if not isinstance(orders, tuple | list) or not orders:
        raise ValueError(f"orders must be a non-empty tuple of ints, got {orders!r}")
    for n in orders:
        check_int("each order", n, minimum=1)
    names = {1: "unigram", 2: "bigram", 3: "trigram"}
    top = max(orders)
    model = NgramLM(top, vocab_size, alpha=alpha, smoothing=smoothing).fit(train_ids)
    return {names.get(n, f"{n}-gram"): model.truncated(n).bits_per_token(val_ids, skip=top - 1)
            for n in orders}


def _codes(ids: np.ndarray, order: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each position's context of ``order - 1`` tokens as one number (base ``vocab_size``,
    the oldest token the most significant) and the token that follows it, for every position
    with a full context."""
    context = np.zeros(len(ids) - order + 1, dtype=np.int64)
    for k in range(order - 1):  # x_{t-n+1} .. x_{t-1}
        context = context * vocab_size + ids[k : len(ids) - order + 1 + k]
    return context, ids[order - 1 :]


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``values`` at each ``query`` code found in the sorted ``keys``, 0 where it is absent."""
    at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[at] == query, values[at], 0)


def _as_ids(ids: torch.Tensor | np.ndarray, vocab_size: int) -> np.ndarray:
    if isinstance(ids, torch.Tensor):
        ids = ids.detach().cpu().numpy()
    if isinstance(ids, np.ndarray) and ids.shape == (0,):
        return ids.astype(np.int64)  # no ids, whatever its dtype (an order-1 model's context)
    if not isinstance(ids, np.ndarray) or ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise TypeError(f"ids must be a 1-D tensor or array of integer token ids, got "
                        f"{type(ids).__name__} {getattr(ids, 'shape', '')}")
    if len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"ids must lie in 0 .. {vocab_size - 1}, got {ids.min()} .. {ids.max()}")
    return ids.astype(np.int64)
