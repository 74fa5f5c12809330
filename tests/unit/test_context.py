"""How much context a language model uses (rnn2transformer.context): loss by position, the
context that still helps, and the cost of shuffling distant context."""

import pandas as pd
import pytest
import torch
from torch import nn

from rnn2transformer.context import (
    context_that_helps,
    gain_beyond,
    loss_by_position,
    shuffle_words,
    shuffled_context_loss,
)


def test_loss_by_position_averages_the_per_position_cross_entropy():
    from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel

    torch.manual_seed(0)
    model = RecurrentModel(RecurrentConfig(kind="lstm", vocab_size=7, input_size=4,
                                           hidden_size=8, output_size=7, readout="all",
                                           loss="cross_entropy"))
    x = torch.randint(0, 7, (10, 6))
    y = torch.randint(0, 7, (10, 6))
    table = loss_by_position(model, (x, y), batch_size=3)
    assert list(table.position) == list(range(6))
    with torch.no_grad():
        logits, loss = model(x, y)
    expected = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none")
    torch.testing.assert_close(torch.tensor(table.loss.values), expected.mean(0).double())
    assert abs(table.loss.mean() - loss.item()) < 1e-5  # the positions average to the loss
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        loss_by_position(model, (x[:, :, None].float(), y))


def test_shuffling_distant_context_costs_a_model_that_uses_it_and_not_one_that_does_not():
    class CopyFirst(nn.Module):
        """Predicts, at every position, the window's first token: it uses distant context."""

        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(10.0))

        def forward(self, x, targets=None):
            return self.scale * nn.functional.one_hot(x[:, :1], 5).float().expand(
                -1, x.shape[1], -1), None

    class Uniform(CopyFirst):
        def forward(self, x, targets=None):
            return torch.zeros(*x.shape, 5) * self.scale, None

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 5, (64, 12), generator=g)
    y = x[:, :1].expand(-1, 12).clone()  # the target is always the first token
    uses = shuffled_context_loss(CopyFirst(), (x, y), keep_last=4, score_last=2)
    assert uses["intact"] < 0.01 and uses["cost"] > 1.0
    ignores = shuffled_context_loss(Uniform(), (x, y), keep_last=4, score_last=2)
    assert abs(ignores["cost"]) < 1e-9
    with pytest.raises(ValueError, match="score_last <= keep_last < T"):
        shuffled_context_loss(Uniform(), (x, y), keep_last=12, score_last=2)


def test_context_that_helps_reads_where_the_loss_levels_off():
    import numpy as np

    positions = np.arange(256)
    # loss falls until 32 tokens of context, then stays flat (with noise far below 2%)
    loss = np.where(positions + 1 < 32, 3.0 - np.log2(positions + 1) * 0.2, 2.0)
    loss = loss + np.random.default_rng(0).normal(0, 0.005, 256)
    table = pd.DataFrame({"position": positions, "loss": loss})
    assert context_that_helps(table) == 32
    flat = pd.DataFrame({"position": positions, "loss": np.full(256, 2.0)})
    assert context_that_helps(flat) == 1  # no context helps: the first bin is already level
    with pytest.raises(ValueError, match="loss_by_position table"):
        context_that_helps(pd.DataFrame({"x": [1]}))


def test_the_reference_level_is_many_positions_not_the_last_one():
    import numpy as np

    positions = np.arange(256)
    loss = np.full(256, 2.0)
    loss[-1] = 1.0  # one odd last position: with it as the reference, nothing would be level
    table = pd.DataFrame({"position": positions, "loss": loss})
    assert context_that_helps(table) == 1
    # gain_beyond: loss at 16-31 tokens seen minus the second half's mean
    falling = pd.DataFrame({"position": positions, "loss": np.where(positions < 128, 3.0, 2.0)})
    assert gain_beyond(falling, 16) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="a quarter of the window"):
        gain_beyond(falling, 100)


def test_shuffling_words_keeps_every_word_and_its_letters():
    space = 0
    ids = torch.tensor([5, 6, 0, 7, 0, 8, 9, 9, 0, 4])  # "ab c deef g" as ids
    g = torch.Generator().manual_seed(1)
    seen = set()
    for _ in range(20):
        out = shuffle_words(ids, space, generator=g)
        assert sorted(out.tolist()) == sorted(ids.tolist()) and len(out) == len(ids)
        words = [w for w in "".join(chr(97 + t) for t in out.tolist()).split("a") if w]
        assert sorted(words) == sorted(["fg", "h", "ijj", "e"])  # each word intact
        seen.add(tuple(out.tolist()))
    assert len(seen) > 1  # and the order does change
    with pytest.raises(ValueError, match="1-D"):
        shuffle_words(ids[None], space, generator=g)


def test_repeated_words_pair_each_long_word_with_its_second_occurrence():
    from rnn2transformer.context import _repeats, repeated_words

    # "a hello b hello c hello" with the space as 0, letters as their own ids
    sep = 0
    ids = [1, 0, 5, 6, 7, 7, 8, 0, 2, 0, 5, 6, 7, 7, 8, 0, 3, 0, 5, 6, 7, 7, 8, 0, 9]
    losses = torch.arange(len(ids), dtype=torch.float32)
    rows = _repeats(ids, losses, sep, 5, window=0)
    # the second "hello" pairs with the first; the third starts a new first occurrence
    assert len(rows) == 1 and rows[0]["distance"] == 8 and rows[0]["length"] == 5
    assert rows[0]["first"] == float(losses[2:6].mean())
    assert rows[0]["second"] == float(losses[10:14].mean())
    assert rows[0]["gain"] == rows[0]["first"] - rows[0]["second"]
    assert _repeats(ids, losses, sep, 6, window=0) == []  # too short to count

    class Copier(torch.nn.Module):  # a "model" that knows every next token: loss near 0
        def forward(self, x):
            return 20 * torch.nn.functional.one_hot(x.roll(-1, 1), 10).float(), None

    x = torch.tensor([ids[:-1]])
    table = repeated_words(Copier(), (x, x.roll(-1, 1)), separator=sep, device="cpu")
    assert list(table.columns) == ["window", "distance", "length", "first", "second", "gain"]
    assert len(table) == 1 and table.second.iloc[0] < 1e-3
