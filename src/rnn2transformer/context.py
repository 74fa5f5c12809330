"""How much context a language model uses (chapters 4 and 9): its loss at each position of a
window, how many tokens of context still lower it, and what shuffling the distant context
costs (Khandelwal et al. 2018)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_float, check_int
from .models.shared import evaluating
from .training import Batch, check_data


@torch.no_grad()
def loss_by_position(
    model: nn.Module, data: Batch, *, batch_size: int = 256, device: torch.device | None = None
) -> pd.DataFrame:
    """Mean cross-entropy (nats) of a language model at each position of its windows.

    ``data`` is ``(x, y)`` of token ids, (N, T), e.g. from
    :func:`rnn2transformer.corpus.char_lm_eval_set`; the model's ``forward(x)`` returns logits
    (N, T, V). Position ``t`` has seen ``t + 1`` tokens of context, so the curve shows how much
    a model gains from more context. Returns columns ``position`` (0-based) and ``loss``.
    """
    check_data("data", data)
    check_int("batch_size", batch_size, minimum=1)
    x_all, y_all = data
    if x_all.ndim != 2 or x_all.shape != y_all.shape:
        raise ValueError(f"data must be (x, y) of shape (N, T) each, got {tuple(x_all.shape)} "
                         f"and {tuple(y_all.shape)}")
    device = device or next(model.parameters()).device
    with evaluating(model):
        total = torch.zeros(x_all.shape[1], dtype=torch.float64, device=device)
        for i in range(0, len(x_all), batch_size):
            x, y = x_all[i : i + batch_size].to(device), y_all[i : i + batch_size].to(device)
            logits, _ = model(x)
            losses = F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none")  # (B, T)
            total += losses.sum(dim=0).double()
    return pd.DataFrame({"position": range(x_all.shape[1]),
                         "loss": (total / len(x_all)).cpu().numpy()})


def context_that_helps(by_position: pd.DataFrame, *, within: float = 0.02) -> int:
    """How many tokens of context still lower a model's loss, read from
    :func:`loss_by_position`: positions are grouped in doubling bins (1, 2-3, 4-7, ... tokens
    seen, the last bin running to the end of the window), and this is the start of the first
    bin from which every later bin's mean loss stays within ``within`` (a fraction) of the
    reference, the mean over the last bin. For a window of 2^k tokens, as the chapters use, the
    last bin holds the second half of the window, so the reference is an average over many
    positions, never a single one."""
    _check_table(by_position)
    check_float("within", within, minimum=0.0)
    means = _bin_means(by_position)
    above = means.to_numpy() > means.iloc[-1] * (1 + within)
    first_flat = int(np.nonzero(above)[0].max() + 1) if above.any() else 0
    return int(2 ** means.index[first_flat])


def _check_table(by_position: pd.DataFrame) -> None:
    if not isinstance(by_position, pd.DataFrame) or not {"position", "loss"} <= set(by_position):
        raise ValueError(f"by_position must be a loss_by_position table (position, loss), got "
                         f"{type(by_position).__name__}"
                         + (f" with columns {list(by_position.columns)}"
                            if isinstance(by_position, pd.DataFrame) else ""))


def _bin_means(by_position: pd.DataFrame) -> pd.Series:
    """Mean loss per doubling bin of tokens seen; the window's last position joins the bin
    before it (for a window of 2^k it would otherwise be a bin of one)."""
    seen = by_position.position.to_numpy() + 1
    last = max(0, int(np.floor(np.log2(max(seen.max() - 1, 1)))))
    bins = np.minimum(np.floor(np.log2(seen)).astype(int), last)
    return pd.Series(by_position.loss.to_numpy()).groupby(bins).mean()


def gain_beyond(by_position: pd.DataFrame, start: int) -> float:
    """What context beyond ``start`` tokens is worth: the mean loss at the positions that have
    seen ``start`` to ``2 start - 1`` tokens minus the mean over the second half of the window
    (nats per token; positive when the longer context lowers the loss). A number per model and
    seed, so seeds can be compared with :func:`rnn2transformer.evidence.compare_seeds`."""
    _check_table(by_position)
    seen = by_position.position.to_numpy() + 1
    check_int("start", start, minimum=1)
    if 4 * start > seen.max():
        raise ValueError(f"start must be at most a quarter of the window ({seen.max()}), got "
                         f"{start}")
    loss = by_position.loss.to_numpy()
    early = loss[(seen >= start) & (seen < 2 * start)].mean()
    return float(early - loss[seen > seen.max() // 2].mean())


@torch.no_grad()
def shuffled_context_loss(
    model: nn.Module, data: Batch, *, keep_last: int, score_last: int, seed: int = 0,
    separator: int | None = None, device: torch.device | None = None,
) -> dict[str, float]:
    """How much a language model uses distant context: its loss on the last ``score_last``
    positions of each window, as it is and with the tokens before the last ``keep_last``
    shuffled within the window. With ``separator`` (the id of a space) whole words are shuffled,
    each keeping its letters in order, as Khandelwal et al. (2018) shuffled words: the distant
    text keeps its words and loses their order. Without it single tokens are shuffled, which
    also destroys the words. Returns ``intact``, ``shuffled`` and their difference ``cost``
    (nats per token)."""
    check_data("data", data)
    x, y = data
    check_int("keep_last", keep_last, minimum=1)
    check_int("score_last", score_last, minimum=1)
    T = x.shape[1]
    if not score_last <= keep_last < T:
        raise ValueError(f"need score_last <= keep_last < T = {T}, got {score_last} and "
                         f"{keep_last}")
    g = torch.Generator().manual_seed(seed)
    far = T - keep_last  # positions 0 .. far-1 are "distant" and get shuffled
    shuffled = x.clone()
    if separator is None:
        order = torch.argsort(torch.rand(len(x), far, generator=g), dim=1)
        shuffled[:, :far] = torch.gather(x[:, :far], 1, order)
    else:
        check_int("separator", separator, minimum=0)
        for row in range(len(x)):
            shuffled[row, :far] = shuffle_words(x[row, :far], separator, generator=g)
    intact = loss_by_position(model, (x, y), device=device).loss.iloc[-score_last:].mean()
    broken = loss_by_position(model, (shuffled, y), device=device).loss.iloc[-score_last:].mean()
    return {"intact": float(intact), "shuffled": float(broken), "cost": float(broken - intact)}


def shuffle_words(ids: torch.Tensor, separator: int, *, generator: torch.Generator
                  ) -> torch.Tensor:
    """``ids`` (a 1-D run of token ids) with its words in a random order: the words are the runs
    between ``separator`` tokens, and they are put back with the separators where they were, so
    the result has the same length, the same tokens and the same words, in a new order. A partial
    word at either end of the run moves like any other."""
    if ids.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
    at = (ids == separator).nonzero().flatten().tolist()
    words = [ids[a + 1:b] for a, b in zip([-1] + at, at + [len(ids)], strict=True)]
    order = torch.randperm(len(words), generator=generator).tolist()
    space = ids.new_tensor([separator])
    pieces = [piece for i in order for piece in (words[i], space)][:-1]  # no space after the last
    return torch.cat(pieces)


@torch.no_grad()
def repeated_words(
    model: nn.Module, data: Batch, *, separator: int, min_letters: int = 5,
    batch_size: int = 128, device: torch.device | None = None,
) -> pd.DataFrame:
    """What a language model gains from having seen a word before: for every word of at least
    ``min_letters`` tokens that occurs a second time in a window of ``data`` (``(x, y)`` of
    token ids, (N, T), e.g. :func:`rnn2transformer.corpus.char_lm_eval_set`; words are the runs
    between ``separator`` tokens), the model's mean loss (nats) on the word's tokens after its
    first, at the first occurrence and at the second, and the distance in tokens between the
    two starts. A model that copies from its context predicts the second occurrence better:
    the ``gain`` (first minus second) is the use of context behind induction heads and behind
    the long-context end of Kaplan et al.'s loss-by-position curves. Columns ``window``,
    ``distance``, ``length``, ``first``, ``second``, ``gain``."""
    check_data("data", data)
    check_int("separator", separator, minimum=0)
    check_int("min_letters", min_letters, minimum=2)
    x_all, y_all = data
    device = device or next(model.parameters()).device
    rows = []
    with evaluating(model):
        for i in range(0, len(x_all), batch_size):
            x, y = x_all[i : i + batch_size].to(device), y_all[i : i + batch_size].to(device)
            logits, _ = model(x)
            loss = F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none").cpu()
            for row, (ids, losses) in enumerate(zip(x.cpu(), loss, strict=True)):
                rows += _repeats(ids.tolist(), losses, separator, min_letters, window=i + row)
    return pd.DataFrame(rows, columns=["window", "distance", "length", "first", "second",
                                       "gain"])


def _repeats(ids: list[int], losses: torch.Tensor, separator: int, min_letters: int,
             window: int) -> list[dict]:
    """The second occurrences of long words in one window (see :func:`repeated_words`). The
    loss of predicting token ``p + 1`` sits at position ``p``, so a word at ``[s, s + L)`` is
    scored on ``losses[s : s + L - 1]`` (its letters after the first); a word cut off by the
    window's end is skipped."""
    seen: dict[tuple, int] = {}
    rows, start = [], None
    for p, token in enumerate(ids + [separator]):
        if token != separator:
            start = p if start is None else start
            continue
        if start is not None and start > 0 and p < len(ids) and p - start >= min_letters:
            word = tuple(ids[start:p])
            if word in seen:
                first = seen.pop(word)
                rows.append({"window": window, "distance": start - first, "length": p - start,
                             "first": float(losses[first : first + p - start - 1].mean()),
                             "second": float(losses[start : p - 1].mean())})
                rows[-1]["gain"] = rows[-1]["first"] - rows[-1]["second"]
            else:
                seen[word] = start
        start = None
    return rows
