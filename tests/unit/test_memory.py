import dataclasses

import pytest
import torch

from rnn2transformer import memory
from rnn2transformer.synthetic import running_parity


def test_chapter_sevens_pair_labels_every_bit_and_reaches_the_longest_test():
    task = memory.parity_pair_task()
    torch.manual_seed(0)
    models = memory.parity_pair_models(task)
    assert list(models) == ["LSTM", "Transformer"]
    x, y = running_parity(3, max(task.lengths))
    for name, model in models.items():
        logits = model(x)[0]
        assert logits.shape == (3, max(task.lengths), 2), name
    # built from the random state: the same seed gives the same weights
    torch.manual_seed(0)
    again = memory.parity_pair_models(task)
    for name in models:
        for a, b in zip(models[name].parameters(), again[name].parameters(), strict=True):
            assert torch.equal(a, b), name


def test_a_sweep_records_every_family_at_every_rate_with_its_task(monkeypatch):
    recorded = {}

    def record(name, results, **options):
        recorded.update(name=name, results=results, **options)
        return {"recorded": name}

    tiny = dataclasses.replace(memory.parity_pair_task(), steps=2, batch_size=4)
    make_task, build, fit, make_tests = memory.SWEPT["parity_pair"]
    monkeypatch.setitem(memory.SWEPT, "parity_pair",
                        (lambda: tiny, build, fit, lambda t: memory.parity_tests(t, 8)))
    monkeypatch.setattr(memory.sweeps, "recorded_results", lambda name: {})
    monkeypatch.setattr(memory.sweeps, "record", record)
    out = memory.sweep("parity_pair", [1e-3, 1e-2, 1e-1])
    assert recorded["name"] == "parity_pair_rates"
    assert recorded["lower_is_better"] is False
    assert recorded["settings"]["task"]["steps"] == 2
    assert set(recorded["results"]) == {"LSTM", "Transformer"}
    for by_rate in recorded["results"].values():
        assert set(by_rate) == {"0.001", "0.01", "0.1"}
        assert all(0.0 <= score <= 1.0 for score in by_rate.values())
    assert out == {"recorded": "parity_pair_rates"}


def test_a_sweep_of_an_unknown_task_names_the_tasks_it_knows():
    with pytest.raises(ValueError, match="parity_pair"):
        memory.sweep("copy", [1e-3, 1e-2, 1e-1])


def test_the_split_state_keeps_the_parameters_and_carries_a_fraction_of_the_state():
    task = memory.recall_task()
    torch.manual_seed(0)
    whole = memory.recall_models(task)["DeltaNet"]
    (name, split), = memory.split_state_models(task).items()
    assert name == memory.SPLIT_STATE == f"DeltaNet, {memory.STATE_HEADS} heads"
    # equal_size matches both to the attention stack within one unit of d_ff per layer
    unit = len(split.config.layers) * (2 * task.width + 1)
    assert abs(sum(p.numel() for p in split.parameters())
               - sum(p.numel() for p in whole.parameters())) <= unit
    tokens = 3 * max(task.pairs)
    assert split.carried_numbers(tokens) < whole.carried_numbers(tokens)
