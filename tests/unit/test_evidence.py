"""Who won, from seeds and a margin (rnn2transformer.evidence and book.prose.verdict)."""

import math

import pytest

from rnn2transformer.book.prose import against_counts, verdict
from rnn2transformer.evidence import compare_seeds, t_quantile


def test_a_clear_difference_names_the_winner_with_its_interval():
    result = compare_seeds([1.0, 1.2, 0.9], [2.0, 2.1, 1.9], names=("LSTM", "Transformer"))
    differences = [-1.0, -0.9, -1.0]
    mean = sum(differences) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / 2)
    assert result.difference == pytest.approx(mean)
    assert result.margin == pytest.approx(4.303 * sd / math.sqrt(3))
    assert result.winner == "LSTM" and result.loser == "Transformer"
    assert verdict(result, unit="bits", lead="has the lower loss than").startswith(
        "LSTM has the lower loss than Transformer (0.967 bits on average over 3 seeds")


def test_a_difference_inside_its_interval_is_within_noise():
    result = compare_seeds([1.0, 2.0, 3.0], [1.5, 1.5, 2.5], names=("A", "B"))
    assert not result.decided and result.winner is None and result.loser is None
    assert verdict(result, unit="bits").startswith("A and B are within noise of each other")


def test_higher_is_better_for_accuracies():
    result = compare_seeds([0.9, 0.91, 0.92], [0.5, 0.52, 0.51], lower_is_better=False,
                     names=("fine-tuned", "scratch"))
    assert result.winner == "fine-tuned"


def test_t_quantiles_come_from_the_table_and_widen_between_rows():
    assert t_quantile(2) == 4.303 and t_quantile(20) == 2.086
    assert t_quantile(22) == 2.086 and t_quantile(100) == 1.960
    with pytest.raises(ValueError, match="df must be at least 1"):
        t_quantile(0)


def test_too_few_seeds_or_broken_runs_are_refused():
    with pytest.raises(ValueError, match="at least 3 seeds per model, got 2"):
        compare_seeds([1, 2], [1, 2])
    with pytest.raises(ValueError, match="same seeds, got 3 and 4"):
        compare_seeds([1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="not finite"):
        compare_seeds([1, 2, float("nan")], [1, 2, 3])
    with pytest.raises(TypeError, match="one per seed"):
        compare_seeds("abc", [1, 2, 3])
    with pytest.raises(TypeError, match="evidence.Comparison"):
        verdict((1, 2), unit="bits")


def test_a_language_model_is_placed_among_the_count_baselines():
    counts = {"unigram": 4.77, "bigram": 3.59, "trigram": 2.90}
    assert against_counts(2.5, counts) == "below the count trigram's 2.90 bits"
    assert against_counts(3.0, counts) == "between the count bigram's 3.59 and trigram's 2.90 bits"
    assert against_counts(5.0, counts) == "above the count unigram's 4.77 bits"
    with pytest.raises(ValueError, match="baselines must map names"):
        against_counts(3.0, {})
