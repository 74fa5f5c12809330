"""Count n-gram language models: the baselines every neural language model in the book is
read against.

An order-``n`` model predicts a token from the ``n - 1`` tokens before it by counting, in the
training text, how often each token followed each context, with add-``alpha`` smoothing so an
unseen pair is unlikely but not impossible::

    P(x_t | x_{t-n+1} .. x_{t-1}) = (count(context, x_t) + alpha) / (count(context) + alpha V)

Order 1 is the letter-frequency model (no context), order 2 the bigram, order 3 the trigram.
A neural model that ends at the trigram's bits per character has learned about what counting
three-letter sequences learns; one below it has learned more. Chapter 2 introduced n-grams as
features; here they are models.
"""

from __future__ import annotations

import numpy as np
import torch

from .._checks import check_float, check_int

MAX_ORDER = 4  # V^4 counts for V = 65 characters is 18 M: fine; beyond that, use a hash table


class NgramLM:
    """An order-``order`` count model over ids ``0 .. vocab_size - 1``: ``fit`` counts, then
    ``bits_per_token`` scores a text."""

    def __init__(self, order: int, vocab_size: int, *, alpha: float = 0.1) -> None:
        self.order = check_int("order", order, minimum=1)
        if order > MAX_ORDER:
            raise ValueError(f"order must be at most {MAX_ORDER} (dense counts), got {order}")
        self.vocab_size = check_int("vocab_size", vocab_size, minimum=2)
        self.alpha = check_float("alpha", alpha, minimum=0.0, strict_minimum=True)
        self.counts: np.ndarray | None = None  # (V^(n-1), V): next-token counts per context

    def _codes(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each position's context as one number (base V) and the token that follows it, for
        every position with a full context."""
        n, V = self.order, self.vocab_size
        context = np.zeros(len(ids) - n + 1, dtype=np.int64)
        for k in range(n - 1):  # x_{t-n+1} .. x_{t-1}, the oldest the most significant
            context = context * V + ids[k : len(ids) - n + 1 + k]
        return context, ids[n - 1 :]

    def fit(self, ids: torch.Tensor | np.ndarray) -> NgramLM:
        """Count every (context, next token) pair of ``ids`` (a 1-D sequence of ids)."""
        ids = _as_ids(ids, self.vocab_size)
        if len(ids) < self.order:
            raise ValueError(f"ids must hold at least order = {self.order} tokens, got {len(ids)}")
        context, target = self._codes(ids)
        V = self.vocab_size
        flat = np.bincount(context * V + target, minlength=V ** self.order)
        self.counts = flat.reshape(V ** (self.order - 1), V)
        return self

    def bits_per_token(self, ids: torch.Tensor | np.ndarray, *, skip: int = 0) -> float:
        """Mean cross-entropy in bits of the tokens of ``ids`` after the first ``skip`` (at
        least ``order - 1``, so every scored token has its full context; pass the largest order
        you compare to score the same tokens with every order)."""
        if self.counts is None:
            raise ValueError("fit the model before scoring with it")
        ids = _as_ids(ids, self.vocab_size)
        skip = max(check_int("skip", skip, minimum=0), self.order - 1)
        if len(ids) <= skip:
            raise ValueError(f"ids must hold more than {skip} tokens, got {len(ids)}")
        context, target = self._codes(ids)
        context, target = context[skip - self.order + 1 :], target[skip - self.order + 1 :]
        seen = self.counts[context, target] + self.alpha
        total = self.counts[context].sum(axis=1) + self.alpha * self.vocab_size
        return float(-np.mean(np.log2(seen / total)))


def ngram_baselines(train_ids: torch.Tensor | np.ndarray, val_ids: torch.Tensor | np.ndarray,
                    vocab_size: int, *, orders: tuple[int, ...] = (1, 2, 3),
                    alpha: float = 0.1) -> dict[str, float]:
    """Bits per token of count models of each order, fitted on ``train_ids`` and scored on the
    same tokens of ``val_ids`` (those after the largest order's context). Keys ``unigram``,
    ``bigram``, ``trigram``, ``4-gram``."""
    names = {1: "unigram", 2: "bigram", 3: "trigram"}
    skip = max(orders) - 1
    return {names.get(n, f"{n}-gram"): NgramLM(n, vocab_size, alpha=alpha).fit(train_ids)
            .bits_per_token(val_ids, skip=skip) for n in orders}


def _as_ids(ids: torch.Tensor | np.ndarray, vocab_size: int) -> np.ndarray:
    if isinstance(ids, torch.Tensor):
        ids = ids.detach().cpu().numpy()
    if not isinstance(ids, np.ndarray) or ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise TypeError(f"ids must be a 1-D tensor or array of integer token ids, got "
                        f"{type(ids).__name__} {getattr(ids, 'shape', '')}")
    if len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"ids must lie in 0 .. {vocab_size - 1}, got {ids.min()} .. {ids.max()}")
    return ids.astype(np.int64)

