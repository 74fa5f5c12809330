"""Loss against compute: the points, the frontier, and where two frontiers cross."""

import pandas as pd
import pytest

from rnn2transformer.scaling import compute_curves, frontier, frontier_crossings


def history(losses, every=10):
    return pd.DataFrame({"step": [every * (i + 1) for i in range(len(losses))],
                         "val_loss": losses})


def test_compute_is_six_times_parameters_times_tokens():
    curves = compute_curves([{"family": "A", "parameters": 100, "tokens_per_step": 8,
                              "history": history([3.0, 2.0])}])
    assert curves.compute.tolist() == [6 * 100 * 8 * 10, 6 * 100 * 8 * 20]
    with pytest.raises(ValueError, match="needs 'history'"):
        compute_curves([{"family": "A", "parameters": 1, "tokens_per_step": 1}])


def test_frontier_takes_the_best_size_at_each_compute():
    runs = [{"family": "A", "parameters": p, "tokens_per_step": 1, "history": history(losses)}
            for p, losses in [(10, [3.0, 2.5, 2.4, 2.35]), (100, [3.5, 2.6, 2.0, 1.5])]]
    front = frontier(compute_curves(runs), points=12)
    assert front.loss.is_monotonic_decreasing  # the frontier never gets worse with compute
    assert front.loss.iloc[0] == pytest.approx(3.0)  # only the small model is there at first
    assert front.loss.iloc[-1] == pytest.approx(1.5)  # the large one wins at the end
    # between the small model's end and the large one's catching up, the small one's 2.35 holds
    assert (front.loss >= 1.5).all() and 2.35 in front.loss.round(6).tolist()


def test_crossings_are_found_and_a_single_leader_is_reported():
    def runs(loss_a, loss_b):
        return [{"family": f, "parameters": 10, "tokens_per_step": 1, "history": history(losses)}
                for f, losses in [("LSTM", loss_a), ("Transformer", loss_b)]]

    crossing = frontier_crossings(frontier(compute_curves(
        runs([2.0, 1.8, 1.7, 1.65], [2.5, 1.9, 1.6, 1.4]))), "LSTM", "Transformer")
    assert len(crossing["crossings"]) == 1
    assert (crossing["leader_small"], crossing["leader_large"]) == ("LSTM", "Transformer")
    assert "cross at about" in crossing["sentence"]
    never = frontier_crossings(frontier(compute_curves(
        runs([2.0, 1.8, 1.7, 1.65], [2.5, 2.2, 2.0, 1.9]))), "LSTM", "Transformer")
    assert never["crossings"] == [] and "do not cross" in never["sentence"]
