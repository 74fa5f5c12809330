"""Sampling text from a language model, one token at a time.

Works for any model with ``forward(ids) -> (logits, loss)`` and logits of shape (B, T, V).
Each step reruns the model on the whole prefix (at most ``context`` tokens): simple and correct
for every family in the book; chapter 8 measures the cost of doing it faster with cached state.
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_float, check_int


@torch.no_grad()
def generate(
    model: nn.Module,
    prompt: list[int],
    n_tokens: int,
    *,
    temperature: float = 1.0,
    context: int | None = None,
    seed: int = 0,
) -> list[int]:
    """Continue ``prompt`` (token ids) by ``n_tokens`` sampled tokens; returns only the new ids."""
    if not prompt:
        raise ValueError("prompt must hold at least one token id")
    check_int("n_tokens", n_tokens, minimum=0)
    check_float("temperature", temperature, minimum=0.0, strict_minimum=True)
    if context is not None:
        check_int("context", context, minimum=1)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    g = torch.Generator(device="cpu").manual_seed(seed)
    ids = list(prompt)
    new = []
    for _ in range(n_tokens):
        window = ids[-context:] if context else ids
        x = torch.tensor([window], device=device)
        logits, _ = model(x)
        probs = torch.softmax(logits[0, -1].float() / temperature, dim=-1).cpu()
        token = int(torch.multinomial(probs, 1, generator=g))
        ids.append(token)
        new.append(token)
    model.train(was_training)
    return new
