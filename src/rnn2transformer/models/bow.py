"""Bag-of-words and n-gram models: fixed-size vectors for text of any length (chapter 2).

A bag of words maps a document to a vector with one dimension per vocabulary word, holding how
often the word occurs. Order is lost: "work to live" and "live to work" get the same vector. An
n-gram model adds one dimension per sequence of ``n`` consecutive tokens; that recovers local
order, at the price of a feature space of size up to ``V**n``.

Both are linear models over count vectors. :class:`BagClassifier` computes ``W x + b`` for a
count vector ``x`` without ever building ``x``: an ``nn.EmbeddingBag`` sums the columns of ``W``
for the features present, which is the same product (Joulin et al., 2017, use the same trick).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Sequence

import pandas as pd
import torch
from torch import nn

from .._checks import check_int, check_tensor
from ..tokenizers import Vocabulary
from .shared import task_loss

Ngram = tuple[str, ...]


def ngrams(tokens: Sequence[str], n: int) -> list[Ngram]:
    """The ``n``-grams of ``tokens``, in order: ``len(tokens) - n + 1`` of them (or none)."""
    check_int("n", n, minimum=1)
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def bag_of_words(docs: Sequence[Sequence[int]], vocab_size: int) -> torch.Tensor:
    """Count vectors of ``docs`` (lists of token ids) as a sparse CSR tensor of shape (N, V)."""
    check_int("vocab_size", vocab_size, minimum=1)
    crow, cols, vals = [0], [], []
    for i, doc in enumerate(docs):
        counts = Counter(int(t) for t in doc)
        if counts and not (0 <= min(counts) and max(counts) < vocab_size):
            raise ValueError(f"doc {i} has ids outside [0, {vocab_size}): {sorted(counts)[:5]}")
        for token in sorted(counts):
            cols.append(token)
            vals.append(float(counts[token]))
        crow.append(len(cols))
    with warnings.catch_warnings():
        # torch calls sparse CSR "beta"; the three operations used here are long stable.
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            torch.tensor(crow, dtype=torch.int64),
            torch.tensor(cols, dtype=torch.int64),
            torch.tensor(vals, dtype=torch.float32),
            size=(len(docs), vocab_size),
            check_invariants=True,
        )


def sparsity_per_row(bags: torch.Tensor) -> torch.Tensor:
    """Fraction of zero entries in each row of a sparse CSR count matrix: shape (N,)."""
    if bags.layout != torch.sparse_csr:
        raise ValueError(f"bags must be a sparse CSR tensor, got layout {bags.layout}")
    nonzero = bags.crow_indices().diff().double()
    return 1.0 - nonzero / bags.shape[1]


def memory_bytes(bags: torch.Tensor) -> dict[str, int]:
    """Bytes to hold a sparse CSR count matrix as it is, and as a dense float32 matrix."""
    if bags.layout != torch.sparse_csr:
        raise ValueError(f"bags must be a sparse CSR tensor, got layout {bags.layout}")
    parts = (bags.crow_indices(), bags.col_indices(), bags.values())
    sparse = sum(t.numel() * t.element_size() for t in parts)
    dense = bags.shape[0] * bags.shape[1] * 4
    return {"sparse": sparse, "dense": dense}


class NgramFeaturizer:
    """Token lists -> ids of their n-grams (each n in ``orders``), with a vocabulary from
    training data.

    Id 0 pads, id 1 collects every n-gram not in the vocabulary. ``orders`` picks which n-gram
    lengths are features: ``(1,)`` is a bag of words, ``(1, 2)`` adds bigrams.
    """

    def __init__(
        self, train_docs: Iterable[Sequence[str]], *, orders: Sequence[int] = (1,),
        min_count: int = 1, max_size: int | None = None,
    ) -> None:
        if not orders or any(not isinstance(n, int) or n < 1 for n in orders):
            raise ValueError(f"orders must be positive ints such as (1, 2), got {orders!r}")
        self.orders = tuple(orders)
        features = (g for doc in train_docs for g in self._grams(doc))
        self.vocab = Vocabulary(features, min_count=min_count, max_size=max_size)

    def _grams(self, tokens: Sequence[str]) -> list[str]:
        return [" ".join(g) for n in self.orders for g in ngrams(tokens, n)]

    def __len__(self) -> int:
        return len(self.vocab)

    def ids(self, tokens: Sequence[str]) -> list[int]:
        return self.vocab.encode(self._grams(tokens))

    def transform(self, docs: Iterable[Sequence[str]]) -> torch.Tensor:
        """Padded feature ids, shape (N, longest): the input of :class:`BagClassifier`."""
        return pad_ids([self.ids(doc) for doc in docs])


def pad_ids(sequences: Sequence[Sequence[int]], pad_id: int = 0) -> torch.Tensor:
    """Stack id lists of different lengths into one (N, T) tensor, padded with ``pad_id``."""
    if len(sequences) == 0:
        raise ValueError("sequences must hold at least one list of ids, got none")
    longest = max(1, max(len(s) for s in sequences))
    out = torch.full((len(sequences), longest), pad_id, dtype=torch.int64)
    for i, seq in enumerate(sequences):
        out[i, : len(seq)] = torch.as_tensor(list(seq), dtype=torch.int64)
    return out


class BagClassifier(nn.Module):
    """A linear classifier on count vectors: ``logits = W x + b``, with ``x`` never built.

    Input: padded feature ids (B, T), 0 = padding. Each id adds its column of ``W``.
    """

    def __init__(self, vocab_size: int, output_size: int) -> None:
        super().__init__()
        check_int("vocab_size", vocab_size, minimum=2)  # features: words or n-grams
        check_int("output_size", output_size, minimum=2)  # classes
        self.weight = nn.EmbeddingBag(vocab_size, output_size, mode="sum", padding_idx=0)
        self.bias = nn.Parameter(torch.zeros(output_size))
        nn.init.zeros_(self.weight.weight)  # a convex problem: start from "no evidence"

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        check_tensor("x", x, ndim=2, dtype_kind="int")  # feature ids (B, T)
        logits = self.weight(x) + self.bias  # (B, output_size)
        loss = None if targets is None else task_loss(logits, targets, "cross_entropy")
        return logits, loss


def ngram_growth(
    train_tokens: Sequence[str], test_tokens: Sequence[str], orders: Iterable[int]
) -> pd.DataFrame:
    """How n-gram counts grow with ``n``, and how many test n-grams training never saw.

    Columns: ``n``, ``distinct_seen`` (distinct n-grams in training), ``possible`` (V**n for the
    training vocabulary V), ``unseen_test_share`` (share of test n-gram occurrences absent from
    training).
    """
    vocab_size = len(set(train_tokens))
    rows = []
    for n in orders:
        seen = set(ngrams(train_tokens, n))
        test = ngrams(test_tokens, n)
        unseen = sum(g not in seen for g in test) / max(1, len(test))
        rows.append({"n": n, "distinct_seen": len(seen), "possible": float(vocab_size) ** n,
                     "unseen_test_share": unseen})
    return pd.DataFrame(rows)
