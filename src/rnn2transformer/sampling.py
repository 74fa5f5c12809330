"""Generating text one token at a time, and what streaming costs (chapters 4, 7 and 9).

:func:`generate` works for any model with ``forward(ids) -> (logits, loss)``. Models that carry
their past forward (``forward_cached``: the recurrent state of an RNN/LSTM, or a Transformer's
key/value cache) feed each new token once; others rerun the whole prefix at every step.
:func:`streaming_cost` measures time and state memory per generated token against position.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from ._checks import check_float, check_int
from .models.shared import evaluating
from .profiling import time_call


def _state_bytes(state: object) -> int:
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, list | tuple):
        return sum(_state_bytes(s) for s in state)
    return 0


def next_token_distribution(
    logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None
) -> torch.Tensor:
    """The distribution a token is sampled from, given a model's ``logits`` (..., V):
    ``softmax(logits / temperature)``, with every token outside the ``top_k`` most likely set to
    probability 0 and the rest renormalised when ``top_k`` is given (Fan et al., 2018).

    A temperature below 1 sharpens the distribution towards the most likely token (0 would be
    greedy decoding), above 1 flattens it towards uniform; top-k cuts the long tail of unlikely
    tokens, each rare on its own but together likely enough to derail a sample.
    """
    check_float("temperature", temperature, minimum=0.0, strict_minimum=True)
    if top_k is not None:
        check_int("top_k", top_k, minimum=1)
    scaled = logits.float() / temperature
    if top_k is not None and top_k < scaled.shape[-1]:
        kth = scaled.topk(top_k, dim=-1).values[..., -1:]  # the k-th largest logit
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    return torch.softmax(scaled, dim=-1)


@torch.no_grad()
def generate(
    model: nn.Module,
    prompt: list[int],
    n_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    use_cache: bool = True,
) -> list[int]:
    """Continue ``prompt`` (token ids) by ``n_tokens`` tokens, each sampled from
    :func:`next_token_distribution` of the model's last logits; returns only the new ids."""
    if not isinstance(prompt, list | tuple):
        raise TypeError(f"prompt must be a list of int token ids, got {type(prompt).__name__}")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in prompt):
        raise TypeError(f"prompt must be a list of int token ids, got a {type(prompt).__name__} "
                        f"holding {sorted({type(i).__name__ for i in prompt})}")
    if not prompt:
        raise ValueError("prompt must hold at least one token id")
    check_int("n_tokens", n_tokens, minimum=0)
    check_float("temperature", temperature, minimum=0.0, strict_minimum=True)
    if top_k is not None:
        check_int("top_k", top_k, minimum=1)
    device = next(model.parameters()).device
    with evaluating(model):
        g = torch.Generator(device="cpu").manual_seed(seed)
        cached = use_cache and hasattr(model, "forward_cached")
        ids, new, state = list(prompt), [], None
        pending = ids  # tokens the model has not read yet
        for _ in range(n_tokens):
            x = torch.tensor([pending if cached else ids], device=device)
            if cached:
                logits, state = model.forward_cached(x, state)
            else:
                logits, _ = model(x)
            probs = next_token_distribution(logits[0, -1], temperature=temperature,
                                            top_k=top_k).cpu()
            token = int(torch.multinomial(probs, 1, generator=g))
            ids.append(token)
            new.append(token)
            pending = [token]
    return new


@torch.no_grad()
def streaming_cost(
    model: nn.Module, *, positions: list[int], vocab_size: int, repeats: int = 10
) -> pd.DataFrame:
    """Time and state memory to generate one more token after ``p`` tokens, for each ``p``.

    The model reads a random prefix of ``p`` tokens through ``forward_cached`` (not timed), then
    the next token's step is timed ``repeats`` times from the same state. Columns: ``position``,
    ``ms_per_token`` (median), ``ms_fastest`` and ``ms_slowest`` (the spread of the repeats) and
    ``state_bytes`` (what the model carries: an LSTM's (h, c), a Transformer's key/value
    cache).
    """
    if not hasattr(model, "forward_cached"):
        raise TypeError(f"{type(model).__name__} has no forward_cached to stream with")
    check_int("vocab_size", vocab_size, minimum=1)
    device = next(model.parameters()).device
    model.eval()
    g = torch.Generator().manual_seed(0)
    rows = []
    for p in positions:
        check_int("position", p, minimum=1)
        prefix = torch.randint(0, vocab_size, (1, p), generator=g).to(device)
        _, state = model.forward_cached(prefix)
        token = torch.randint(0, vocab_size, (1, 1), generator=g).to(device)
        timing = time_call(lambda t=token, s=state: model.forward_cached(t, s), device=device,
                           repeats=repeats, warmup=2)
        rows.append({"position": p, "ms_per_token": 1000 * timing["median_s"],
                     "ms_fastest": 1000 * timing["min_s"], "ms_slowest": 1000 * timing["max_s"],
                     "state_bytes": _state_bytes(state)})
    return pd.DataFrame(rows)
