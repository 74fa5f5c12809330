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
    seen), and this is the start of the first bin from which every later bin's mean loss stays
    within ``within`` (a fraction) of the last bin's. Bins average away the noise of single
    positions; the last bin is the level the model reaches with all the context it has."""
    if not isinstance(by_position, pd.DataFrame) or not {"position", "loss"} <= set(by_position):
        raise ValueError("by_position must be a loss_by_position table (position, loss)")
    check_float("within", within, minimum=0.0)
    seen = by_position.position.to_numpy() + 1  # tokens of context at each position
    bins = pd.Series(by_position.loss.to_numpy()).groupby(np.floor(np.log2(seen)).astype(int))
    means = bins.mean()
    above = means.to_numpy() > means.iloc[-1] * (1 + within)
    first_flat = int(np.nonzero(above)[0].max() + 1) if above.any() else 0
    return int(2 ** means.index[first_flat])


@torch.no_grad()
def shuffled_context_loss(
    model: nn.Module, data: Batch, *, keep_last: int, score_last: int, seed: int = 0,
    device: torch.device | None = None,
) -> dict[str, float]:
    """How much a language model uses distant context: its loss on the last ``score_last``
    positions of each window, as it is and with every token before the last ``keep_last``
    shuffled within the window (the same words, no longer in order). Returns ``intact``,
    ``shuffled`` and their difference ``cost`` (nats per token)."""
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
    order = torch.argsort(torch.rand(len(x), far, generator=g), dim=1)
    shuffled = x.clone()
    shuffled[:, :far] = torch.gather(x[:, :far], 1, order)
    intact = loss_by_position(model, (x, y), device=device).loss.iloc[-score_last:].mean()
    broken = loss_by_position(model, (shuffled, y), device=device).loss.iloc[-score_last:].mean()
    return {"intact": float(intact), "shuffled": float(broken), "cost": float(broken - intact)}
