"""Run, decide, say (rnn2transformer.evidence.over_seeds/compare and book.claims): a claim
glues one set of keys, and a claim whose models did not learn the task decides nothing."""

import pandas as pd
import pytest
import torch

from rnn2transformer.book import claims
from rnn2transformer.book.claims import Claim, below_count, gated_verdict, glue_claim, learned
from rnn2transformer.evidence import compare, compare_seeds, over_seeds


def frame():
    return pd.DataFrame({"model": ["A"] * 3 + ["B"] * 3, "seed": [0, 1, 2] * 2,
                         "bits": [1.0, 1.1, 0.9, 2.0, 2.2, 1.9]})


def test_over_seeds_builds_fresh_models_per_seed_and_pairs_rows_by_seed():
    built = []

    def build():
        models = {"small": torch.nn.Linear(2, 1), "large": torch.nn.Linear(2, 3)}
        built.append(models)
        return models

    def run(name, model, seed):
        assert model is built[-1][name]
        return [{"n": n, "weight": model.weight.flatten()[0].item() + n} for n in (1, 2)]

    rows = over_seeds(build, run, [0, 1, 2])
    assert len(built) == 3 and len(rows) == 3 * 2 * 2
    assert list(rows.columns) == ["model", "seed", "n", "weight"]
    # the same seed gives the same initial weights: seeding is part of over_seeds
    again = over_seeds(build, run, [1])
    first = rows[(rows.seed == 1)].reset_index(drop=True)
    assert first.equals(again.reset_index(drop=True))
    with pytest.raises(ValueError, match="non-empty list of ints"):
        over_seeds(build, run, [])
    with pytest.raises(TypeError, match="dict of names to models"):
        over_seeds(lambda: torch.nn.Linear(1, 1), run, [0])


def test_compare_reads_a_frame_like_compare_seeds_reads_lists():
    result = compare(frame(), "bits", "A", "B")
    assert result == compare_seeds([1.0, 1.1, 0.9], [2.0, 2.2, 1.9], names=("A", "B"))
    shuffled = frame().sample(frac=1, random_state=0)  # row order does not matter
    assert compare(shuffled, "bits", "A", "B") == result
    wide = pd.concat([frame().assign(pairs=4), frame().assign(pairs=8, bits=2.0)])
    assert compare(wide, "bits", "A", "B", pairs=4) == result
    with pytest.raises(ValueError, match="more than one row per seed"):
        compare(wide, "bits", "A", "B")
    with pytest.raises(ValueError, match="no rows for model 'C'"):
        compare(frame(), "bits", "A", "C")
    with pytest.raises(ValueError, match="same seeds"):
        compare(frame().drop(index=0), "bits", "A", "B")
    with pytest.raises(ValueError, match="columns model, seed and 'loss'"):
        compare(frame(), "loss", "A", "B")


def test_a_claim_glues_its_fixed_keys_and_its_row_follows_the_gate(monkeypatch):
    glued = {}
    monkeypatch.setattr("rnn2transformer.book.glue", lambda k, v: glued.setdefault(k, v))
    comparison = compare(frame(), "bits", "A", "B")
    passed = learned({"A": 1.0, "B": 2.03}, 2.5, rule="below the count 4-gram", unit="bits")
    claim = glue_claim(Claim("race", comparison, lead="ends lower than", unit="bits/char",
                             budget="300 steps", gate=passed))
    assert set(glued) == {f"race_{k}" for k in claims.KEYS}
    assert glued["race_winner"] == "A" and glued["race_seeds"] == 3
    assert glued["race_row"] == glued["race_verdict"] == claim.verdict
    assert glued["race_verdict"].startswith("A ends lower than B")
    failed = learned({"A": 1.0, "B": 2.03}, 2.0, rule="below the count 4-gram", unit="bits")
    assert not failed.passed and "B was not" in failed.found
    blocked = Claim("race", comparison, lead="ends lower than", unit="bits/char",
                    budget="300 steps", gate=failed)
    assert blocked.winner == "not decided" and not blocked.counts
    assert blocked.row == ("not decided: not every model learned the task (every model had to be "
                           "below the count 4-gram (2.00 bits); B was not (A 1.00, B 2.03 bits))")
    assert blocked.verdict == claim.verdict  # the sentence stays; the row does not use it


def test_a_comparison_outside_the_claims_follows_the_same_gate():
    comparison = compare(frame(), "bits", "A", "B")
    options = dict(unit="bits/char", lead="ends lower than", digits=2)
    passed = learned({"A": 1.0, "B": 2.03}, 2.5, rule="below the count 4-gram", unit="bits")
    failed = learned({"A": 1.0, "B": 2.03}, 2.0, rule="below the count 4-gram", unit="bits")
    said = gated_verdict(comparison, passed, **options)
    assert said == gated_verdict(comparison, None, **options) and said.startswith("A ends lower")
    assert gated_verdict(comparison, failed, **options).startswith(
        "not decided: not every model learned the task (every model had to be below the count "
        "4-gram")
    with pytest.raises(TypeError, match="claims.Gate or None, got bool"):
        gated_verdict(comparison, True, **options)


def test_within_noise_and_accuracies():
    noisy = compare_seeds([1.0, 2.0, 3.0], [1.5, 1.5, 2.5], names=("A", "B"))
    claim = Claim("ctx", noisy, lead="gains more than", unit="bits", budget="400 steps")
    assert claim.winner == "neither (within noise)" and "within noise" in claim.row
    gate = learned({"A": 0.9, "B": 0.3}, 0.26, rule="above the last-pair line", unit="",
                   lower_is_better=False)
    assert gate.passed and gate.found.startswith("every model was")


def test_a_gate_reads_as_a_sentence_with_its_bar_where_the_rule_puts_it():
    fits = learned({"LSTM": 99.5}, 95.0, rule="right on more than {bar} of its training pairs",
                   unit="%", lower_is_better=False, digits=1)
    assert fits.sentence == "LSTM had to be right on more than 95.0% of its training pairs; it " \
                            "was (LSTM 99.5%)"
    cue = learned({"A": 60.0, "B": 80.0}, 70.0, rule="above the cue", unit="% of pairs",
                  lower_is_better=False, digits=1)
    assert cue.sentence == "every model had to be above the cue (70.0% of pairs); A was not (A " \
                           "60.0, B 80.0% of pairs)"
    short = learned({"A": 60.0, "B": 65.0}, 70.0, rule="above the cue", unit="%",
                    lower_is_better=False, digits=1)
    assert short.found == "A and B were not (A 60.0, B 65.0%)"


def test_a_gate_keeps_names_with_commas_apart():
    gate = learned({"Adam": 94.2, "Adam, constant rate": 94.0, "SGD": 60.0, "SGD, no decay": 61.0},
                   70.0, rule="above the line", unit="%", lower_is_better=False, digits=1)
    assert gate.found == ("SGD and SGD, no decay were not (Adam 94.2; Adam, constant rate 94.0; "
                          "SGD 60.0; SGD, no decay 61.0%)")


def test_bad_claims_are_refused():
    comparison = compare(frame(), "bits", "A", "B")
    with pytest.raises(ValueError, match="key must be letters"):
        Claim("race row", comparison, lead="x", unit="y", budget="z")
    with pytest.raises(TypeError, match="evidence.Comparison"):
        Claim("race", 0.5, lead="x", unit="y", budget="z")
    with pytest.raises(ValueError, match="budget must be a non-empty string"):
        Claim("race", comparison, lead="x", unit="y", budget="")
    with pytest.raises(ValueError, match="results must map"):
        learned({}, 1.0, rule="below", unit="bits")


def test_below_count_is_the_ladders_gate_at_the_rung_asked():
    ladder = {"bigram": 2.9, "4-gram": 2.2}
    gate = below_count({"LSTM": 2.0, "Transformer": 2.5}, ladder)
    assert not gate.passed
    assert gate.rule == "every model had to be below the count 4-gram (2.20 bits/char)"
    assert gate.found.startswith("Transformer was not")
    assert below_count({"LSTM": 2.0, "Transformer": 2.5}, ladder, "bigram").passed
    with pytest.raises(ValueError, match=r"rungs \['bigram', '4-gram'\], got '5-gram'"):
        below_count({"LSTM": 2.0}, ladder, "5-gram")


def test_two_gates_joined_pass_only_when_both_pass():
    fits = learned({"LSTM": 99.0}, 95.0, rule="fitted", unit="%", lower_is_better=False)
    cue = learned({"LSTM": 60.0}, 70.0, rule="above the cue", unit="%", lower_is_better=False)
    both = fits & cue
    assert (fits & fits).passed and not both.passed and not (cue & fits).passed
    # each rule stays beside what the runs did against it
    assert both.sentence == ("LSTM had to be fitted (95.00%); it was (LSTM 99.00%), and LSTM had "
                             "to be above the cue (70.00%); LSTM was not (LSTM 60.00%)")
    with pytest.raises(TypeError):
        fits & True
