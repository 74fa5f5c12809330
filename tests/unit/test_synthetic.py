"""The generated tasks (rnn2transformer.synthetic): their layout, baselines and batches."""

import math

import pytest
import torch
from torch import nn

from rnn2transformer.synthetic import (
    COPY_DELIMITER,
    IGNORE,
    copy_memory,
    copy_memory_baseline,
    multi_query_recall,
    multi_query_recall_batches,
    recall_accuracy,
    recall_baseline,
    reversal_batches,
)


def test_copy_memory_layout():
    x, y = copy_memory(5, delay=7, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 27)
    assert ((x[:, :10] >= 1) & (x[:, :10] <= 8)).all()
    assert (x[:, 16] == COPY_DELIMITER).all() and (x[:, 10:16] == 0).all()
    assert (x[:, 17:] == 0).all()
    assert torch.equal(y[:, -10:], x[:, :10]) and (y[:, :-10] == 0).all()


@pytest.mark.parametrize("delay", [10, 50, 100])
def test_copy_memory_baseline_matches_the_memoryless_predictor_on_data(delay):
    x, y = copy_memory(2000, delay, generator=torch.Generator().manual_seed(1))
    # blanks where the answer is always blank, a uniform guess over 1..8 where symbols are due
    probs = torch.zeros(*y.shape, 10)
    probs[:, :-10, 0] = 1.0
    probs[:, -10:, 1:9] = 1 / 8
    log_probs = torch.log(probs.clamp_min(1e-30))
    loss = nn.functional.nll_loss(log_probs.reshape(-1, 10), y.reshape(-1)).item()
    assert loss == pytest.approx(copy_memory_baseline(delay), rel=1e-6)
    assert copy_memory_baseline(delay) == pytest.approx(10 * math.log(8) / (delay + 20))


def test_reversal_batches_are_marked_to_draw_on_the_device_and_reverse_their_input():
    # that a marked task's tensors land on a GPU generator's device: tests/gpu/test_cuda_paths.py
    draw = reversal_batches(6, 5, batch_size=4)
    assert draw.draws_on_device
    x, y = draw(torch.Generator().manual_seed(1))
    assert x.device.type == "cpu" and torch.equal(y, x.flip(1))


def test_multi_query_recall_answers_are_recoverable_from_the_inputs():
    x, y = multi_query_recall(16, 8, 40, n_queries=5, generator=torch.Generator().manual_seed(3))
    assert x.shape == y.shape == (16, 2 * 8 + 5)
    for row_x, row_y in zip(x.tolist(), y.tolist(), strict=True):
        keys, values = row_x[0:16:2], row_x[1:16:2]
        assert len(set(keys)) == 8 and max(keys) < 20 <= min(values)  # distinct keys, value ids
        assert all(t == IGNORE for t in row_y[:16])  # only the recalls are scored
        for position in range(16, 21):
            assert row_y[position] == values[keys.index(row_x[position])]


def test_recall_accuracy_scores_only_the_queries_and_chance_is_one_value_in_many():
    x, y = multi_query_recall(4, 3, 10)
    perfect = torch.nn.functional.one_hot(y.clamp_min(0), 10).float()
    assert recall_accuracy(perfect, y) == 1.0
    assert recall_baseline(10) == 1 / 5
    draw = multi_query_recall_batches(3, 10, batch_size=2)
    assert draw(torch.Generator().manual_seed(0))[0].shape == (2, 9)


def test_multi_query_recall_refuses_what_it_cannot_make():
    with pytest.raises(ValueError, match="n_pairs must be at most vocab_size // 2 = 5"):
        multi_query_recall(2, 6, 10)
    with pytest.raises(ValueError, match="n_queries must be at most n_pairs = 3"):
        multi_query_recall(2, 3, 10, n_queries=4)


def test_a_recall_mixture_draws_every_number_of_pairs_and_refuses_bad_ones():
    from rnn2transformer.synthetic import multi_query_recall_batches

    draw = multi_query_recall_batches([2, 4, 8], 40, batch_size=5)
    g = torch.Generator().manual_seed(0)
    lengths = {draw(g)[0].shape[1] for _ in range(40)}
    assert lengths == {6, 12, 24}  # 2N + N for each N in the list
    x, y = draw(torch.Generator().manual_seed(3))
    assert x.shape == y.shape and x.shape[0] == 5
    with pytest.raises(ValueError, match="n_pairs must be at most"):
        multi_query_recall_batches([2, 30], 40)
    with pytest.raises(ValueError, match="whole number or a list"):
        multi_query_recall_batches([], 40)


def test_running_parity_labels_every_prefix_and_ends_with_the_parity():
    from rnn2transformer.synthetic import running_parity, running_parity_batches

    x, y = running_parity(5, 30, generator=torch.Generator().manual_seed(3))
    assert x.shape == y.shape == (5, 30) and x.dtype == torch.int64
    for t in (0, 7, 29):
        assert torch.equal(y[:, t], x[:, : t + 1].sum(dim=1) % 2)
    draw = running_parity_batches(3, 9, batch_size=4)
    lengths = {draw(torch.Generator().manual_seed(s))[0].shape[1] for s in range(40)}
    assert lengths <= set(range(3, 10)) and len(lengths) > 3
    with pytest.raises(ValueError, match="max_length must be an int >= 5"):
        running_parity_batches(5, 4)
