"""Models built in sets of equal size for a fair race: a character Transformer and an LSTM
language model of the same size (chapters 7 to 9, the benchmark and the explorers), the same
pair with a minGRU language model beside them (chapters 9 to 11), and stacks of any time mixers
matched to one parameter count (:func:`equal_size`, chapter 11)."""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from .._checks import check_int
from .hybrid import HybridConfig, HybridModel
from .linear_rnn import LinearRNNConfig, LinearRNNModel
from .recurrent import RecurrentConfig, RecurrentModel
from .shared import count_parameters
from .transformer import TransformerConfig, TransformerModel


def char_lm_pair(width: int, *, vocab_size: int = 65, max_len: int = 512
                 ) -> dict[str, nn.Module]:
    """A character Transformer (2 pre-norm blocks of ``width``, feed-forward 4 x width) and an
    LSTM language model whose hidden size is chosen so the two have the same number of
    parameters (within a fraction of a percent). Sinusoidal positions, so neither's size
    depends on the sequence length; ``max_len`` is the Transformer's window (the longest
    context it was built for: an exported model reads no more)."""
    check_int("width", width, minimum=8)
    lm = dict(vocab_size=vocab_size, output_size=vocab_size, readout="all", loss="cross_entropy")
    transformer = TransformerModel(TransformerConfig(
        d_model=width, n_heads=max(1, width // 32), n_layers=2, d_ff=4 * width, causal=True,
        positions="sinusoidal", max_len=max_len, **lm))
    target, V, E = count_parameters(transformer), vocab_size, width
    # LSTM LM parameters: V E (embedding) + 4h(E + h) + 8h (gates) + h V + V (readout)
    a, b, c = 4, 4 * E + 8 + V, V * E + V - target
    hidden = max(1, round((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)))
    lstm = RecurrentModel(RecurrentConfig(kind="lstm", input_size=E, hidden_size=hidden, **lm))
    return {"LSTM": lstm, "Transformer": transformer}


def char_lm_trio(width: int, *, vocab_size: int = 65, max_len: int = 512
                 ) -> dict[str, nn.Module]:
    """:func:`char_lm_pair` and a :class:`LinearRNNModel` (2 minGRU blocks of ``width``) of the
    same size. A minGRU layer has 2 width^2 weights where attention has 4 width^2, so the
    minGRU blocks get a wider feed-forward layer: its width is chosen to match the
    Transformer's parameter count (each unit of it costs 2 width + 1 parameters per block)."""
    models = char_lm_pair(width, vocab_size=vocab_size, max_len=max_len)
    target = count_parameters(models["Transformer"])

    def mingru(d_ff: int) -> LinearRNNModel:
        return LinearRNNModel(LinearRNNConfig(kind="mingru", vocab_size=vocab_size,
                                              d_model=width, n_layers=2, d_ff=d_ff,
                                              output_size=vocab_size))

    short = target - count_parameters(mingru(4 * width))
    d_ff = max(1, 4 * width + round(short / (2 * (2 * width + 1))))
    return {"LSTM": models["LSTM"], "minGRU": mingru(d_ff), "Transformer": models["Transformer"]}


def equal_size(configs: dict[str, HybridConfig], *, parameters: int | None = None
               ) -> dict[str, HybridModel]:
    """A :class:`~.hybrid.HybridModel` for each config, each with its feed-forward width
    ``d_ff`` changed so that it has ``parameters`` parameters (default: as many as the first
    config's model), within one unit of d_ff (each unit costs every layer 2 d_model + 1).
    Mixers differ in size (attention 4 d^2 a layer, an LSTM 8 d^2, minGRU 2 d^2, a matrix
    state 2 d d_key H + 2 d^2), so matching the count means only the mixer differs. The
    models are built in order from the current random state, as plain constructors would be
    (the trial builds that count parameters do not consume random numbers)."""
    if not configs or not all(isinstance(c, HybridConfig) for c in configs.values()):
        raise TypeError(f"configs must map names to HybridConfig, got {configs!r}")

    def size(config: HybridConfig) -> int:
        with torch.random.fork_rng(devices=[]):
            return count_parameters(HybridModel(config))

    first = next(iter(configs.values()))
    target = size(first) if parameters is None else check_int("parameters", parameters,
                                                                minimum=1)
    models = {}
    for name, config in configs.items():
        per_unit = len(config.layers) * (2 * config.d_model + 1)
        d_ff = max(1, config.d_ff + round((target - size(config)) / per_unit))
        models[name] = HybridModel(dataclasses.replace(config, d_ff=d_ff))
    return models
