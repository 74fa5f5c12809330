"""Shakespeare as character windows (rnn2transformer.corpus): batches, evaluation sets and
streams that carry on where they stopped."""

import pytest
import torch

from rnn2transformer import train
from rnn2transformer.corpus import char_lm_batches, char_lm_eval_set, char_lm_stream
from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel


def test_char_lm_batches_are_shifted_windows():
    ids = torch.arange(100)
    x, y = char_lm_batches(ids, length=8, batch_size=4)(torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(y, x + 1)
    vx, vy = char_lm_eval_set(ids, length=10)
    assert vx.shape == (9, 10) and torch.equal(vy, vx + 1)
    with pytest.raises(ValueError, match="longer than length"):
        char_lm_batches(torch.arange(5), length=8, batch_size=1)


def test_stream_batches_continue_where_the_previous_batch_stopped():

    ids = torch.arange(1000)
    draw = char_lm_stream(ids, length=10, batch_size=4)
    g = torch.Generator()
    (x1, y1), (x2, _) = draw(g), draw(g)
    assert x1.shape == (4, 10) and torch.equal(y1, x1 + 1)
    assert torch.equal(x2[:, 0], x1[:, -1] + 1)  # row b goes on where it stopped
    with pytest.raises(ValueError, match="cannot be resumed"):
        train(RecurrentModel(RecurrentConfig(vocab_size=1000, input_size=4, hidden_size=4,
                                             output_size=1000, readout="all",
                                             loss="cross_entropy")),
              draw, steps=2, checkpoint="unused.pt")
