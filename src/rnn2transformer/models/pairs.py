"""Models built in pairs for a fair race: a character Transformer and an LSTM language model
of the same size (chapters 7 to 9, the benchmark and the explorers), and the same pair with a
minGRU language model of the same size beside them (chapter 10)."""

from __future__ import annotations

import math

from torch import nn

from .._checks import check_int
from .linear_rnn import LinearRNNConfig, LinearRNNModel
from .recurrent import RecurrentConfig, RecurrentModel
from .shared import count_parameters
from .transformer import TransformerConfig, TransformerModel


def char_lm_pair(width: int, *, vocab_size: int = 65) -> dict[str, nn.Module]:
    """A character Transformer (2 pre-norm blocks of ``width``, feed-forward 4 x width) and an
    LSTM language model whose hidden size is chosen so the two have the same number of
    parameters (within a fraction of a percent). Sinusoidal positions, so neither's size
    depends on the sequence length."""
    check_int("width", width, minimum=8)
    lm = dict(vocab_size=vocab_size, output_size=vocab_size, readout="all", loss="cross_entropy")
    transformer = TransformerModel(TransformerConfig(
        d_model=width, n_heads=max(1, width // 32), n_layers=2, d_ff=4 * width, causal=True,
        positions="sinusoidal", **lm))
    target, V, E = count_parameters(transformer), vocab_size, width
    # LSTM LM parameters: V E (embedding) + 4h(E + h) + 8h (gates) + h V + V (readout)
    a, b, c = 4, 4 * E + 8 + V, V * E + V - target
    hidden = max(1, round((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)))
    lstm = RecurrentModel(RecurrentConfig(kind="lstm", input_size=E, hidden_size=hidden, **lm))
    return {"LSTM": lstm, "Transformer": transformer}


def char_lm_trio(width: int, *, vocab_size: int = 65) -> dict[str, nn.Module]:
    """:func:`char_lm_pair` and a :class:`LinearRNNModel` (2 minGRU blocks of ``width``) of the
    same size. A minGRU layer has 2 width^2 weights where attention has 4 width^2, so the
    minGRU blocks get a wider feed-forward layer: its width is chosen to match the
    Transformer's parameter count (each unit of it costs 2 width + 1 parameters per block)."""
    models = char_lm_pair(width, vocab_size=vocab_size)
    target = count_parameters(models["Transformer"])

    def mingru(d_ff: int) -> LinearRNNModel:
        return LinearRNNModel(LinearRNNConfig(kind="mingru", vocab_size=vocab_size,
                                              d_model=width, n_layers=2, d_ff=d_ff,
                                              output_size=vocab_size))

    short = target - count_parameters(mingru(4 * width))
    d_ff = max(1, 4 * width + round(short / (2 * (2 * width + 1))))
    return {"LSTM": models["LSTM"], "minGRU": mingru(d_ff), "Transformer": models["Transformer"]}
