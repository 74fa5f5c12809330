"""Count n-gram language models (rnn2transformer.models.ngram), the baselines of every
language-model figure."""

import math

import numpy as np
import pytest
import torch

from rnn2transformer.models.ngram import NgramLM, ngram_baselines


def test_unigram_bits_are_the_cross_entropy_of_the_smoothed_frequencies():
    train = torch.tensor([0, 0, 0, 1])  # counts 3 and 1 over a vocabulary of 2
    model = NgramLM(1, 2, alpha=1.0).fit(train)
    p0, p1 = (3 + 1) / (4 + 2), (1 + 1) / (4 + 2)
    expected = -(math.log2(p0) + math.log2(p1)) / 2
    assert model.bits_per_token(torch.tensor([0, 1])) == pytest.approx(expected)


def test_every_context_gives_a_distribution_that_sums_to_one():
    g = torch.Generator().manual_seed(0)
    model = NgramLM(3, 5, alpha=0.1).fit(torch.randint(0, 5, (500,), generator=g))
    counts = model.counts
    probs = (counts + 0.1) / (counts.sum(axis=1, keepdims=True) + 0.1 * 5)
    assert probs.shape == (25, 5) and np.allclose(probs.sum(axis=1), 1.0)


def test_a_longer_context_predicts_a_patterned_text_better():
    text = torch.tensor([0, 1, 2, 0, 2, 1] * 200)  # after two tokens the third is certain
    bits = ngram_baselines(text, text, 3, orders=(1, 2, 3), alpha=0.01)
    assert bits["unigram"] == pytest.approx(math.log2(3), abs=0.01)
    assert bits["unigram"] > bits["bigram"] > bits["trigram"]
    assert bits["trigram"] < 0.05


def test_every_order_scores_the_same_tokens():
    g = torch.Generator().manual_seed(1)
    train, val = torch.randint(0, 4, (300,), generator=g), torch.randint(0, 4, (50,), generator=g)
    unigram = NgramLM(1, 4).fit(train)
    assert ngram_baselines(train, val, 4, orders=(1, 3))["unigram"] == pytest.approx(
        unigram.bits_per_token(val, skip=2))


def test_bad_input_is_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="order must be at most 4"):
        NgramLM(5, 10)
    with pytest.raises(ValueError, match=r"ids must lie in 0 \.\. 2"):
        NgramLM(2, 3).fit(torch.tensor([0, 1, 3]))
    with pytest.raises(TypeError, match="1-D tensor or array of integer token ids"):
        NgramLM(2, 3).fit(torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match="fit the model before scoring"):
        NgramLM(2, 3).bits_per_token(torch.tensor([0, 1, 2]))
