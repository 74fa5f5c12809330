"""Count n-gram language models (rnn2transformer.models.ngram), the baselines of every
language-model figure."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from rnn2transformer.models.ngram import MAX_ORDER, NgramLM, ngram_baselines


def dense_add_alpha_bits(train: np.ndarray, val: np.ndarray, order: int, vocab_size: int,
                         alpha: float, skip: int) -> float:
    """The add-alpha computation as it was before the counts went sparse (a dense
    (V^(n-1), V) table), copied here so the book's glued numbers stay the same bit for bit."""
    V = vocab_size

    def codes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        context = np.zeros(len(ids) - order + 1, dtype=np.int64)
        for k in range(order - 1):
            context = context * V + ids[k : len(ids) - order + 1 + k]
        return context, ids[order - 1 :]

    train, val = train.astype(np.int64), val.astype(np.int64)
    context, target = codes(train)
    counts = np.bincount(context * V + target, minlength=V**order).reshape(V ** (order - 1), V)
    skip = max(skip, order - 1)
    context, target = codes(val)
    context, target = context[skip - order + 1 :], target[skip - order + 1 :]
    seen = counts[context, target] + alpha
    total = counts[context].sum(axis=1) + alpha * V
    return float(-np.mean(np.log2(seen / total)))


def brute_witten_bell(train: list[int], order: int, vocab_size: int):
    """Interpolated Witten-Bell written the slow, obvious way: P(w | history) for a tuple of
    the ``order - 1`` tokens before ``w``."""
    counts = [Counter() for _ in range(order)]  # counts[k][(context of k tokens, w)]
    for k in range(order):
        for t in range(k, len(train)):
            counts[k][(tuple(train[t - k : t]), train[t])] += 1

    def prob(history: tuple[int, ...], w: int) -> float:
        p = 1.0 / vocab_size
        for k in range(order):
            h = history[len(history) - k :] if k else ()
            seen_h = [(key, c) for key, c in counts[k].items() if key[0] == h]
            total, distinct = sum(c for _, c in seen_h), len(seen_h)
            if total:
                p = (counts[k][(h, w)] + distinct * p) / (total + distinct)
        return p

    return prob


def test_unigram_bits_are_the_cross_entropy_of_the_smoothed_frequencies():
    train = torch.tensor([0, 0, 0, 1])  # counts 3 and 1 over a vocabulary of 2
    model = NgramLM(1, 2, alpha=1.0).fit(train)
    p0, p1 = (3 + 1) / (4 + 2), (1 + 1) / (4 + 2)
    expected = -(math.log2(p0) + math.log2(p1)) / 2
    assert model.bits_per_token(torch.tensor([0, 1])) == pytest.approx(expected)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_add_alpha_gives_exactly_the_numbers_of_the_dense_counts(order):
    g = np.random.default_rng(order)
    patterned = np.tile(g.integers(0, 12, 37), 60)  # repeats, so long contexts are seen
    noisy = np.where(g.random(len(patterned)) < 0.2, g.integers(0, 12, len(patterned)),
                     patterned)
    train, val = noisy[:1800], noisy[1800:]
    for alpha in (0.1, 0.5, 1.0):
        for skip in (0, 3, 7):
            sparse = NgramLM(order, 12, alpha=alpha).fit(train).bits_per_token(val, skip=skip)
            assert sparse == dense_add_alpha_bits(train, val, order, 12, alpha, skip)
    baselines = ngram_baselines(torch.from_numpy(train), val, 12, orders=(1, 2, 3, 4))
    assert baselines == {name: dense_add_alpha_bits(train, val, n, 12, 0.1, 3)
                         for n, name in enumerate(["unigram", "bigram", "trigram", "4-gram"], 1)}


def test_add_alpha_distribution_is_the_smoothed_row_of_counts():
    train = np.array([0, 1, 2, 0, 1, 1, 0, 1, 2])
    model = NgramLM(2, 3, alpha=0.5).fit(train)
    after_one = np.array([1, 1, 2], dtype=float)  # 1 was followed by 2, 1, 0, 2
    assert np.allclose(model.next_token_probs(np.array([2, 1])),
                       (after_one + 0.5) / (after_one.sum() + 1.5))


@pytest.mark.parametrize("smoothing", ["add_alpha", "witten_bell"])
def test_every_context_gives_a_distribution_that_sums_to_one(smoothing):
    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 6, (400,), generator=g) % torch.tensor([6, 3]).repeat(200)
    for order in (1, 2, 3, 4, 6):
        model = NgramLM(order, 7, smoothing=smoothing).fit(train)  # token 6 is never seen
        contexts = [train[i : i + order - 1] for i in (0, 17, 200)]  # seen
        contexts += [torch.randint(0, 7, (order - 1,), generator=g) for _ in range(20)]
        contexts.append(torch.full((order + 2,), 6))  # unseen at every length
        for context in contexts:
            probs = model.next_token_probs(context)
            assert probs.shape == (7,) and (probs > 0).all()
            assert probs.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_witten_bell_matches_a_brute_force_implementation(order):
    chars = "abcdeklmnorz _"  # 'e', 'n' and 'o' never occur in training
    train = [chars.index(c) for c in "abracadabra alakazam abracabra"]
    val = [chars.index(c) for c in "a barracoon near a zebra"]  # unseen contexts, tokens
    V = len(chars)
    model = NgramLM(order, V, smoothing="witten_bell").fit(np.array(train))
    prob = brute_witten_bell(train, order, V)
    expected = [-math.log2(prob(tuple(val[t - order + 1 : t]), val[t]))
                for t in range(3, len(val))]
    assert model.bits_per_token(np.array(val), skip=3) == pytest.approx(np.mean(expected))
    for t in range(3, len(val)):
        history = tuple(val[t - order + 1 : t])
        assert np.allclose(model.next_token_probs(np.array(val[:t])),
                           [prob(history, w) for w in range(V)], rtol=1e-12, atol=0)


@pytest.mark.parametrize("smoothing", ["add_alpha", "witten_bell"])
def test_a_longer_context_predicts_a_patterned_text_better(smoothing):
    text = torch.tensor([0, 1, 2, 0, 2, 1] * 200)  # after two tokens the third is certain
    bits = ngram_baselines(text, text, 3, orders=(1, 2, 3), alpha=0.01, smoothing=smoothing)
    assert bits["unigram"] == pytest.approx(math.log2(3), abs=0.01)
    assert bits["unigram"] > bits["bigram"] > bits["trigram"]
    assert bits["trigram"] < 0.05


def test_higher_orders_keep_helping_on_a_repetitive_text():
    verse = "the cat sat on the mat, the rat sat on the hat, and that was that. "
    chars = sorted(set(verse))
    ids = torch.tensor([chars.index(c) for c in verse * 40])
    bits = ngram_baselines(ids[:2000], ids[2000:], len(chars), orders=tuple(range(1, 9)),
                           smoothing="witten_bell")
    assert list(bits) == ["unigram", "bigram", "trigram"] + [f"{n}-gram" for n in range(4, 9)]
    ladder = list(bits.values())
    assert all(worse > better for worse, better in zip(ladder, ladder[1:], strict=False))
    assert ladder[-1] < 0.05  # seven characters settle where the verse is


def test_a_lower_order_of_a_fitted_model_is_the_model_of_that_order():
    g = torch.Generator().manual_seed(2)
    train, val = torch.randint(0, 5, (600,), generator=g), torch.randint(0, 5, (80,), generator=g)
    for smoothing in ("add_alpha", "witten_bell"):
        big = NgramLM(6, 5, alpha=0.3, smoothing=smoothing).fit(train)
        for n in range(1, 7):
            alone = NgramLM(n, 5, alpha=0.3, smoothing=smoothing).fit(train)
            assert big.truncated(n).bits_per_token(val, skip=5) == alone.bits_per_token(
                val, skip=5)


def test_every_order_scores_the_same_tokens():
    g = torch.Generator().manual_seed(1)
    train, val = torch.randint(0, 4, (300,), generator=g), torch.randint(0, 4, (50,), generator=g)
    unigram = NgramLM(1, 4).fit(train)
    assert ngram_baselines(train, val, 4, orders=(1, 3))["unigram"] == pytest.approx(
        unigram.bits_per_token(val, skip=2))


def test_long_orders_of_a_large_vocabulary_fit_without_a_dense_table():
    g = np.random.default_rng(3)
    ids = g.integers(0, 65, 20_000)
    model = NgramLM(MAX_ORDER, 65, smoothing="witten_bell").fit(ids)
    assert sum(len(level.pairs) for level in model.levels) < 10 * len(ids)
    assert model.next_token_probs(ids[:20]).sum() == pytest.approx(1.0)


def test_bad_input_is_refused_with_what_was_expected():
    with pytest.raises(ValueError, match=f"order must be at most {MAX_ORDER}, got 11"):
        NgramLM(11, 10)
    with pytest.raises(ValueError, match=r"vocab_size \*\* order must be below 2 \*\* 63.*"
                                         r"got 100000 \*\* 5"):
        NgramLM(5, 100_000)
    with pytest.raises(ValueError, match=r"smoothing must be one of \['add_alpha', "
                                         r"'witten_bell'\], got 'kneser_ney'"):
        NgramLM(2, 3, smoothing="kneser_ney")
    with pytest.raises(ValueError, match=r"ids must lie in 0 \.\. 2, got 0 \.\. 3"):
        NgramLM(2, 3).fit(torch.tensor([0, 1, 3]))
    with pytest.raises(TypeError, match="1-D tensor or array of integer token ids"):
        NgramLM(2, 3).fit(torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match="ids must hold at least order = 3 tokens, got 2"):
        NgramLM(3, 3).fit(np.array([0, 1]))
    with pytest.raises(ValueError, match="fit the model before scoring"):
        NgramLM(2, 3).bits_per_token(torch.tensor([0, 1, 2]))
    model = NgramLM(3, 3, smoothing="witten_bell").fit(torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="context must hold at least order - 1 = 2 tokens, got 1"):
        model.next_token_probs(torch.tensor([1]))
    with pytest.raises(ValueError, match="order must be at most this model's 3, got 4"):
        model.truncated(4)
    with pytest.raises(ValueError, match="ids must hold more than 2 tokens, got 2"):
        model.bits_per_token(torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"orders must be a non-empty tuple of ints, got \(\)"):
        ngram_baselines([0, 1], [0, 1], 2, orders=())
    with pytest.raises(TypeError, match=r"each order must be an int, got 2.0 \(float\)"):
        ngram_baselines([0, 1], [0, 1], 2, orders=(1, 2.0))
