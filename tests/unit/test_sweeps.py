"""Recorded learning-rate sweeps (rnn2transformer.sweeps): a best rate must lie inside its
grid, and the recorded files the chapters read say where they came from."""

from importlib import resources

import pytest

from rnn2transformer import sweeps


def test_the_best_rate_must_lie_inside_the_grid():
    results = {"LSTM": {"0.001": 2.5, "0.01": 2.2, "0.1": 2.4},
               "Transformer": {"0.001": 2.9, "0.01": 2.6, "0.1": 2.8}}
    assert sweeps.best_rates(results) == {"LSTM": 0.01, "Transformer": 0.01}
    assert sweeps.best_rates({"x": {"1": 0.5, "2": 0.9, "3": 0.1}}, lower_is_better=False) \
        == {"x": 2.0}
    with pytest.raises(ValueError, match="at the edge of its grid"):
        sweeps.best_rates({"LSTM": {"0.001": 2.5, "0.01": 2.2, "0.1": 2.1}})
    with pytest.raises(ValueError, match="at least three rates"):
        sweeps.best_rates({"LSTM": {"0.001": 2.5, "0.01": 2.2}})


def test_at_the_smoke_scale_a_sweep_may_end_at_its_edge(monkeypatch):
    # a launch test's runs are too short to learn: their sweep decides nothing
    monkeypatch.setenv("RNN2T_SCALE", "smoke")
    assert sweeps.best_rates({"LSTM": {"0.001": 2.5, "0.01": 2.2, "0.1": 2.1}}) == {"LSTM": 0.1}
    with pytest.raises(ValueError, match="at least three rates"):
        sweeps.best_rates({"LSTM": {"0.001": 2.5, "0.01": 2.2}})


def test_a_sweep_names_its_file_plainly():
    with pytest.raises(ValueError, match="name must be letters"):
        sweeps.load("../etc/passwd")
    with pytest.raises(FileNotFoundError, match="no recorded sweep"):
        sweeps.load("no_such_sweep")


def test_every_recorded_sweep_has_an_inside_optimum_and_its_provenance():
    folder = resources.files("rnn2transformer") / "data"
    names = [p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json")]
    for name in names:
        sweep = sweeps.load(name)  # refuses an edge optimum
        assert {"date", "commit", "machine", "settings"} <= set(sweep["provenance"])
        assert set(sweep["rates"]) == set(sweep["results"])


def test_a_plateau_of_equal_best_scores_is_read_at_its_middle():
    plateau = {"attention": {"0.001": 0.6, "0.003": 1.0, "0.01": 1.0, "0.03": 1.0}}
    assert sweeps.best_rates(plateau, lower_is_better=False) == {"attention": 0.01}
