"""Data sets the package generates, seeded, so no chapter downloads anything.

Chapter 1 uses :func:`make_spirals`; later chapters add their sequence tasks here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ._checks import check_float, check_int


def make_spirals(
    n_per_class: int = 300,
    *,
    n_classes: int = 2,
    turns: float = 1.25,
    noise: float = 0.08,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Interleaved spirals in the plane: a classic set no straight line can separate.

    Class ``k``'s points lie on the spiral ``r = t``, ``angle = 2 pi (turns t + k / n_classes)``
    for ``t`` in [0.05, 1), plus Gaussian noise of standard deviation ``noise``.

    Returns:
        ``x`` of shape (N, 2) in roughly [-1, 1]^2 (float32) and labels ``y`` of shape (N,)
        (int64), with ``N = n_classes * n_per_class``, grouped by class (class 0 first).
    """
    check_int("n_per_class", n_per_class, minimum=1)
    check_int("n_classes", n_classes, minimum=2)
    check_float("turns", turns, minimum=0.0, strict_minimum=True)
    check_float("noise", noise, minimum=0.0)
    check_int("seed", seed, minimum=0)
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n_classes, n_per_class, generator=g) * 0.95 + 0.05  # (K, N)
    k = torch.arange(n_classes).unsqueeze(1)  # (K, 1)
    angle = 2 * math.pi * (turns * t + k / n_classes)
    x = torch.stack([t * torch.cos(angle), t * torch.sin(angle)], dim=-1)  # (K, N, 2)
    x = x + noise * torch.randn(x.shape, generator=g)
    y = k.expand(n_classes, n_per_class)
    return x.reshape(-1, 2).float(), y.reshape(-1).long()


ADDING_BASELINE_MSE = 1 / 6  # Var(u1 + u2) for two independent U(0, 1): predicting 1 scores this


def adding_problem(
    batch_size: int, length: int, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The adding problem (Hochreiter and Schmidhuber, 1997; Le, Jaitly and Hinton, 2015).

    Each sequence has ``length`` steps of two features: a value drawn uniformly from [0, 1] and
    a marker that is 1 at exactly two steps, one in the first half and one in the second half,
    and 0 elsewhere. The target is the sum of the two marked values. Always predicting their mean,
    1, gives a mean squared error of 1/6; doing better needs memory over up to ``length`` steps.

    Returns ``x`` of shape (B, T, 2) and ``y`` of shape (B,), both float32.
    """
    check_int("batch_size", batch_size, minimum=1)
    check_int("length", length, minimum=2)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    on = g.device  # drawn where the generator lives: on the GPU when training there
    values = torch.rand(batch_size, length, generator=g, device=on)
    half = length // 2
    first = torch.randint(0, half, (batch_size,), generator=g, device=on)
    second = torch.randint(half, length, (batch_size,), generator=g, device=on)
    markers = torch.zeros(batch_size, length, device=on)
    rows = torch.arange(batch_size, device=on)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    return torch.stack([values, markers], dim=-1), y


def draws_on_device(draw):
    """Mark a batch function whose tensors are made where its generator lives.

    :func:`rnn2transformer.train` then hands it a generator on the training device, so on a GPU
    a batch is drawn there: no host-side work, no copy, no wait. Unmarked functions get a CPU
    generator (they may use CPU-only code) and their batches are copied over.
    """
    draw.draws_on_device = True
    return draw


def batch_function(task, *args: object, batch_size: int = 64):
    """Turn a task ``task(batch_size, *args, generator=g)`` into a batch function for
    :func:`rnn2transformer.train`: ``generator -> (x, y)``, a fresh batch on every call.
    The task must create its tensors on ``generator.device`` (every task here does)."""
    check_int("batch_size", batch_size, minimum=1)
    task(1, *args, generator=torch.Generator().manual_seed(0))  # fail now on bad arguments

    @draws_on_device
    def draw(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return task(batch_size, *args, generator=generator)

    return draw


def varied_length_batches(task, min_length: int, max_length: int, *, batch_size: int = 64):
    """:func:`batch_function` for a task ``task(batch_size, length, generator=g)`` whose length
    changes from batch to batch: one length in [min_length, max_length] per batch, drawn with
    the batch's generator (so a seeded run is repeatable). It is not marked
    :func:`draws_on_device`: the length is a number the CPU generator it is handed draws."""
    check_int("min_length", min_length, minimum=1)
    check_int("max_length", max_length, minimum=min_length)
    check_int("batch_size", batch_size, minimum=1)

    def draw(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        length = int(torch.randint(min_length, max_length + 1, (1,), generator=generator))
        return task(batch_size, length, generator=generator)

    return draw


def adding_batches(length: int, *, batch_size: int = 64):
    """Batches of :func:`adding_problem` for :func:`rnn2transformer.train`."""
    return batch_function(adding_problem, length, batch_size=batch_size)


COPY_SYMBOLS = 8  # data symbols are 1..8
COPY_LENGTH = 10  # how many symbols to remember
COPY_BLANK, COPY_DELIMITER = 0, 9


def copy_memory(
    batch_size: int, delay: int, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The copy-memory task (Hochreiter and Schmidhuber, 1997; Arjovsky, Shah and Bengio, 2016).

    Input: 10 symbols drawn from {1..8}, then ``delay - 1`` blanks (0), a delimiter (9), and 10
    more blanks: ``delay + 20`` steps. Target: blanks everywhere except the last 10 steps, which
    must reproduce the 10 symbols. A model without memory can do no better than predicting blanks
    and then a uniform guess over 8 symbols: cross-entropy ``10 ln 8 / (delay + 20)``
    (:func:`copy_memory_baseline`).

    Returns token ids ``x`` and ``y``, both (B, delay + 20), int64.
    """
    check_int("batch_size", batch_size, minimum=1)
    check_int("delay", delay, minimum=1)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    total = delay + 2 * COPY_LENGTH
    on = g.device
    symbols = torch.randint(1, COPY_SYMBOLS + 1, (batch_size, COPY_LENGTH), generator=g,
                            device=on)
    x = torch.full((batch_size, total), COPY_BLANK, dtype=torch.int64, device=on)
    x[:, :COPY_LENGTH] = symbols
    x[:, COPY_LENGTH + delay - 1] = COPY_DELIMITER
    y = torch.full((batch_size, total), COPY_BLANK, dtype=torch.int64, device=on)
    y[:, -COPY_LENGTH:] = symbols
    return x, y


def copy_memory_baseline(delay: int) -> float:
    """Cross-entropy per step of the best memoryless guess: ``10 ln 8 / (delay + 20)``."""
    check_int("delay", delay, minimum=1)
    return COPY_LENGTH * math.log(COPY_SYMBOLS) / (delay + 2 * COPY_LENGTH)


def copy_memory_batches(delay: int, *, batch_size: int = 64):
    """Batches of :func:`copy_memory` for :func:`rnn2transformer.train`."""
    return batch_function(copy_memory, delay, batch_size=batch_size)


def parity(
    batch_size: int, length: int, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Parity of a bit string: is the number of ones odd?

    The answer depends on every bit, so it can only be computed by carrying one bit of state
    from start to end, the simplest thing a recurrent network can do, and one that attention,
    which pools over positions, finds hard (Hahn, 2020). ``x`` is (B, T, 1) float bits, ``y``
    (B,) int64 in {0, 1}.
    """
    check_int("batch_size", batch_size, minimum=1)
    check_int("length", length, minimum=1)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    bits = torch.randint(0, 2, (batch_size, length), generator=g, device=g.device)
    return bits.unsqueeze(-1).float(), bits.sum(dim=1) % 2


def parity_batches(min_length: int, max_length: int, *, batch_size: int = 64):
    """A batch function of :func:`parity`, one length in [min_length, max_length] per batch."""
    return varied_length_batches(parity, min_length, max_length, batch_size=batch_size)


def running_parity(
    batch_size: int, length: int, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Parity with a label at every position: ``x`` (B, T) int64 bits (token ids 0 and 1) and
    ``y`` (B, T), the parity of the bits up to and including each position. A model trained on
    it gets a signal at every step, not only at the end, so a failure to learn is not a failure
    to find one bit of feedback in a long string; the last label is :func:`parity`'s answer.
    A state-tracking task: the answer flips with every 1, so a recurrence must be able to
    flip its state (Grazzi et al. 2025)."""
    check_int("batch_size", batch_size, minimum=1)
    check_int("length", length, minimum=1)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    bits = torch.randint(0, 2, (batch_size, length), generator=g, device=g.device)
    return bits, bits.cumsum(dim=1) % 2


def running_parity_batches(min_length: int, max_length: int, *, batch_size: int = 64):
    """A batch function of :func:`running_parity`, one length in [min_length, max_length] per
    batch."""
    return varied_length_batches(running_parity, min_length, max_length,
                                 batch_size=batch_size)


# --- a task whose correct alignment is known ---------------------------------------------------

def reversal_task(
    batch_size: int, length: int, vocab_size: int, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reverse a sequence of random tokens: output position i must read input position T-1-i.

    A stand-in for translation between languages with opposite word order, where the right
    alignment is known exactly. Returns ``x`` and ``y``, both (B, T), int64 in [0, vocab_size).
    """
    check_int("batch_size", batch_size, minimum=1)
    check_int("length", length, minimum=2)
    check_int("vocab_size", vocab_size, minimum=2)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    x = torch.randint(0, vocab_size, (batch_size, length), generator=g, device=g.device)
    return x, x.flip(1)


def reversal_batches(length: int, vocab_size: int, *, batch_size: int = 64):
    """Batches of :func:`reversal_task` for :func:`rnn2transformer.train`."""
    return batch_function(reversal_task, length, vocab_size, batch_size=batch_size)


# --- multi-query associative recall (MQAR): what a fixed-size state cannot hold -----------------

IGNORE = -100  # a target cross-entropy skips (PyTorch's default ignore_index)


def multi_query_recall(
    batch_size: int, n_pairs: int, vocab_size: int, *, n_queries: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Multi-query associative recall (Arora et al. 2023, "Zoology"): ``n_pairs`` key-value
    pairs, then ``n_queries`` of the keys again (default: every key, in a new order); at each
    query the model must output the value that followed that key.

    Keys are ids ``0 .. vocab_size // 2 - 1`` (distinct within a sequence), values the ids
    above. Returns ``x`` (B, 2 n_pairs + n_queries) of ids and ``y`` of the same shape: the
    answer at every query position and :data:`IGNORE` everywhere else, so only the recalls are
    scored. A model that learned nothing but which ids are values is right one time in
    ``vocab_size - vocab_size // 2`` (:func:`recall_baseline`).
    """
    check_int("batch_size", batch_size, minimum=1)
    check_int("n_pairs", n_pairs, minimum=1)
    check_int("vocab_size", vocab_size, minimum=4)
    keys_n = vocab_size // 2
    if n_pairs > keys_n:
        raise ValueError(f"n_pairs must be at most vocab_size // 2 = {keys_n} (keys are "
                         f"distinct), got {n_pairs}")
    n_queries = n_pairs if n_queries is None else check_int("n_queries", n_queries, minimum=1)
    if n_queries > n_pairs:
        raise ValueError(f"n_queries must be at most n_pairs = {n_pairs}, got {n_queries}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    shape = (batch_size, n_pairs)
    keys = torch.rand(batch_size, keys_n, generator=g, device=g.device).argsort(dim=1)[:, :n_pairs]
    values = torch.randint(keys_n, vocab_size, shape, generator=g, device=g.device)
    context = torch.stack([keys, values], dim=2).reshape(batch_size, 2 * n_pairs)  # k v k v ..
    asked = torch.rand(shape, generator=g, device=g.device).argsort(dim=1)[:, :n_queries]
    x = torch.cat([context, keys.gather(1, asked)], dim=1)  # (B, 2N + Q)
    y = torch.full_like(x, IGNORE)
    y[:, 2 * n_pairs:] = values.gather(1, asked)
    return x, y


def recall_baseline(vocab_size: int) -> float:
    """Accuracy of guessing a value id at random on :func:`multi_query_recall`."""
    check_int("vocab_size", vocab_size, minimum=4)
    return 1 / (vocab_size - vocab_size // 2)


def last_pair_accuracy(n_pairs: int, vocab_size: int) -> float:
    """Accuracy on :func:`multi_query_recall` of a model that keeps only the last key-value
    pair: right on the query for that pair (one in ``n_pairs``), a guess among the values on
    the others. A recall model on this line has learned to store one pair, not more."""
    check_int("n_pairs", n_pairs, minimum=1)
    chance = recall_baseline(vocab_size)
    return 1 / n_pairs + (1 - 1 / n_pairs) * chance


def recall_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Share of the scored positions (targets not :data:`IGNORE`) whose largest logit is the
    target: a metric for :func:`rnn2transformer.train` on :func:`multi_query_recall`."""
    scored = targets != IGNORE
    return (logits.argmax(dim=-1)[scored] == targets[scored]).float().mean()


def multi_query_recall_batches(n_pairs: int | Sequence[int], vocab_size: int, *,
                               n_queries: int | None = None, batch_size: int = 64):
    """Batches of :func:`multi_query_recall` for :func:`rnn2transformer.train`. With a list
    of ``n_pairs`` each batch draws its number of pairs from the list (with the batch's own
    generator), so one model learns every length of context at once, as in Zoology's
    training mixture; every example in a batch has the same number of pairs."""
    choices = [n_pairs] if isinstance(n_pairs, int) else list(n_pairs)
    if not choices or not all(isinstance(n, int) and not isinstance(n, bool) for n in choices):
        raise ValueError(f"n_pairs must be a whole number or a list of them, got {n_pairs!r}")

    def task(batch, vocab, *, generator):
        pick = int(torch.randint(len(choices), (1,), generator=generator, device=generator.device))
        return multi_query_recall(batch, choices[pick], vocab, n_queries=n_queries,
                                  generator=generator)

    for n in choices:  # fail now, naming the bad number of pairs
        multi_query_recall(1, n, vocab_size, n_queries=n_queries)
    return batch_function(task, vocab_size, batch_size=batch_size)
