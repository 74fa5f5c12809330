"""Who won, from seeds and a margin (rnn2transformer.evidence and book.prose.verdict)."""

import math

import pandas as pd
import pytest

from rnn2transformer.book.prose import (
    against_counts,
    describe_growth,
    verdict,
    where_each_leads,
    where_transformer_leads,
)
from rnn2transformer.evidence import (
    compare_rounds,
    compare_rounds_by_length,
    compare_seeds,
    t_quantile,
)


def test_a_clear_difference_names_the_winner_with_its_interval():
    result = compare_seeds([1.0, 1.2, 0.9], [2.0, 2.1, 1.9], names=("LSTM", "Transformer"))
    differences = [-1.0, -0.9, -1.0]
    mean = sum(differences) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / 2)
    assert result.difference == pytest.approx(mean)
    assert result.margin == pytest.approx(4.303 * sd / math.sqrt(3))
    assert result.winner == "LSTM" and result.loser == "Transformer"
    assert verdict(result, unit="bits", lead="has the lower loss than").startswith(
        "LSTM has the lower loss than Transformer (by 0.967 bits on average over 3 seeds")


def test_a_difference_inside_its_interval_is_within_noise():
    result = compare_seeds([1.0, 2.0, 3.0], [1.5, 1.5, 2.5], names=("A", "B"))
    assert not result.decided and result.winner is None and result.loser is None
    assert verdict(result, unit="bits").startswith("A and B are within noise of each other")
    assert "over 3 rounds," in verdict(result, unit="ms", over="rounds")  # timings in rounds
    assert "over 3 draws," in verdict(result, unit="of weight", over="draws")  # paired inputs
    with pytest.raises(ValueError, match="over"):
        verdict(result, unit="ms", over="runs")


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


def _sweep(tf_rounds, lstm_rounds):
    """A two-setting parallelism sweep: (width 32, length 64) and (width 32, length 256)."""
    rows = []
    for length, (tf, lstm) in zip([64, 256], zip(tf_rounds, lstm_rounds, strict=True),
                                  strict=True):
        for family, ms in [("Transformer", tf), ("LSTM", lstm)]:
            median = sorted(ms)[1]
            rows.append({"family": family, "width": 32, "length": length, "ms_rounds": ms,
                         "tokens_per_s": 4096 / (median / 1000)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("exponent", "words"), [
    (-1.8, "falls as T grows"), (0.1, "barely grows with T"), (0.5, "grows more slowly than T"),
    (1.0, "grows about in proportion to T"), (1.5, "grows faster than T but more slowly than T²"),
    (2.1, "grows about as T²")])
def test_a_growth_exponent_is_described_in_its_band(exponent, words):
    assert describe_growth(exponent, "T") == words


def test_the_throughput_sweep_counts_a_setting_only_when_its_rounds_decide_it():
    clear = [10.0, 10.2, 9.9], [20.0, 20.1, 19.8]  # far apart, little spread
    noisy = [10.0, 30.0, 12.0], [11.0, 25.0, 14.0]  # the spread swamps the difference
    read = where_transformer_leads(_sweep([clear[0], noisy[0]], [clear[1], noisy[1]]))
    assert (read["settings"], read["leads"], read["behind"]) == (2, 1, 0)
    assert "and the two are within noise of each other in 1;" in read["sentence"]
    assert "3 paired rounds" in read["sentence"]
    tie = where_transformer_leads(_sweep([noisy[0], noisy[1]], [noisy[1], noisy[0]]))
    assert (tie["leads"], tie["behind"]) == (0, 0)  # once "measured (...),  and in 2 the two"
    assert tie["sentence"].startswith("of the 2 settings measured (each decided over 3 paired "
                                      "rounds), the Transformer and the LSTM are within noise "
                                      "of each other in every one of them;")
    lstm_ahead = where_transformer_leads(_sweep([clear[1], clear[1]], [clear[0], clear[0]]))
    assert lstm_ahead["sentence"].startswith("the LSTM trains more tokens per second")
    # a results file saved before the rounds were kept: read median against median, said so
    old = where_transformer_leads(_sweep([clear[0], noisy[0]],
                                         [clear[1], noisy[1]]).drop(columns="ms_rounds"))
    assert old["leads"] == 2 and "without a margin" in old["sentence"]


def test_a_comparison_over_lengths_names_where_each_side_is_ahead():
    fast, slow, noisy = [1.0, 1.1, 0.9], [2.0, 2.1, 1.9], [0.5, 3.0, 1.0]
    by_length = {64: compare_seeds(fast, slow, names=("the scan", "the loop")),
                 256: compare_seeds(slow, fast, names=("the scan", "the loop")),
                 1024: compare_seeds(noisy, fast, names=("the scan", "the loop"))}
    sentence = where_each_leads(by_length)
    assert sentence == ("the scan took less time than the loop at T = 64; the loop took less "
                        "time than the scan at T = 256; the two are within noise of each other "
                        "at T = 1,024 (each decided over 3 paired rounds)")
    everywhere = where_each_leads({64: by_length[64], 128: by_length[64]})
    assert everywhere.startswith("the scan took less time than the loop at every length")
    with pytest.raises(ValueError, match="same two sides"):
        where_each_leads({64: by_length[64], 128: compare_seeds(fast, slow, names=("a", "b"))})
    with pytest.raises(TypeError, match="Comparison"):
        where_each_leads({64: 1.0})


def test_timing_rounds_are_compared_in_milliseconds_round_by_round():
    rounds = {"scan": [0.0010, 0.0011, 0.0009], "loop": [0.0020, 0.0023, 0.0019]}
    timed = compare_rounds(rounds, "scan", "loop", names=("the scan", "the loop"))
    assert timed == compare_seeds([1.0, 1.1, 0.9], [2.0, 2.3, 1.9],
                                  names=("the scan", "the loop"))
    assert timed.winner == "the scan" and timed.lower_is_better
    assert compare_rounds(rounds, "loop", "scan").a == "loop"  # names default to the calls
    # round i of one call is paired with round i of the other: a shared slow round cancels
    loaded = {"scan": [0.001, 0.011, 0.001], "loop": [0.002, 0.012, 0.002]}
    assert compare_rounds(loaded, "scan", "loop").margin == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(KeyError, match="no rounds for 'lstm'.*'scan', 'loop'"):
        compare_rounds(rounds, "lstm", "scan")
    with pytest.raises(TypeError, match="rounds must map"):
        compare_rounds([0.1, 0.2], "scan", "loop")
    with pytest.raises(ValueError, match="two different calls, got 'scan' twice"):
        compare_rounds(rounds, "scan", "scan")
    with pytest.raises(TypeError, match=r"rounds\['scan'\] must be a sequence of numbers"):
        compare_rounds({"scan": "fast", "loop": rounds["loop"]}, "scan", "loop")
    # by length: only where both were timed (the loop stopped short of T = 4,096)
    by_length = compare_rounds_by_length({64: rounds, 4096: {"scan": rounds["scan"]}},
                                         "scan", "loop")
    assert list(by_length) == [64] and by_length[64] == compare_rounds(rounds, "scan", "loop")
    with pytest.raises(KeyError, match="no length has rounds for both 'scan' and 'lopo'"):
        compare_rounds_by_length({64: rounds}, "scan", "lopo")
    with pytest.raises(TypeError, match="rounds must map lengths to paired rounds"):
        compare_rounds_by_length({64: [0.1]}, "scan", "loop")


def test_two_sides_equal_on_every_seed_are_level_not_a_difference_of_zero():
    both_right = compare_seeds([100.0, 100.0, 100.0], [100.0, 100.0, 100.0], names=("A", "B"),
                               lower_is_better=False)
    assert both_right.winner is None
    assert verdict(both_right, unit="points", digits=1) == "A and B are level on each of the " \
                                                           "3 seeds (both 100.0)"
