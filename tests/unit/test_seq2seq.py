"""The encoder-decoder of chapter 5 and its generated language pair."""

import pytest
import torch

from rnn2transformer.models.seq2seq import Seq2Seq, Seq2SeqConfig, exact_match, greedy_decode
from rnn2transformer.toy_language import (
    SOURCE_WORDS,
    TARGET_WORDS,
    decode_target,
    make_pairs,
    translate,
)


def test_translation_reorders_by_the_three_rules_and_aligns_every_word():
    words = "the old king sees a small bird near the river".split()
    target, order = translate(words)
    assert " ".join(target) == "la rej vej un vog pik la riv pres vid"
    assert sorted(order) == list(range(len(words)))  # every source word translated once
    assert order[-1] == words.index("sees")  # the verb last
    with pytest.raises(ValueError, match="unknown"):
        translate(["the", "unicorn", "sees", "anna"])


def test_pairs_are_seeded_padded_and_span_a_wide_range_of_lengths():
    a, b = make_pairs(500, seed=3), make_pairs(500, seed=3)
    assert torch.equal(a.source, b.source) and a.sentences == b.sentences
    assert int(a.lengths.max()) >= 5 * int(a.lengths.min())
    for i in range(20):
        n = int(a.lengths[i])
        assert (a.source[i, n:] == 0).all() and (a.source[i, :n] != 0).all()
        assert decode_target(a.target[i]) == " ".join(translate(a.sentences[i].split())[0])
        assert TARGET_WORDS[int(a.target[i, n])] == "<eos>"


def model(attention, seed=0):
    torch.manual_seed(seed)
    return Seq2Seq(Seq2SeqConfig(len(SOURCE_WORDS), len(TARGET_WORDS), embed_size=8,
                                 hidden_size=12, attention=attention)).eval()


@pytest.mark.parametrize("attention", ["none", "additive", "dot", "general"])
def test_shapes_and_a_decoder_step_equals_the_teacher_forced_pass(attention):
    pairs = make_pairs(6, seed=1)
    net = model(attention)
    logits, loss = net(pairs.source, pairs.target)
    assert logits.shape == (*pairs.target.shape, len(TARGET_WORDS)) and loss.ndim == 0
    with torch.no_grad():  # step by step, feeding the true previous words
        memory = net.encode(pairs.source)
        state, word = memory.final, torch.full((6,), net.config.bos_id)
        for t in range(pairs.target.shape[1]):
            step_logits, state, weights = net.step(word, state, memory)
            torch.testing.assert_close(step_logits, logits[:, t])
            word = pairs.target[:, t]
    words, attention_maps = greedy_decode(net, pairs.source, pairs.target.shape[1])
    assert words.shape == pairs.target.shape
    assert attention_maps.shape == (6, pairs.target.shape[1], pairs.source.shape[1])
    assert exact_match(net, pairs.source, pairs.target).shape == (6,)


@pytest.mark.parametrize("attention", ["none", "additive", "dot", "general"])
def test_padding_gets_no_weight_and_changes_nothing(attention):
    pairs = make_pairs(4, seed=2)
    net = model(attention)
    padded = torch.cat([pairs.source, torch.zeros(4, 5, dtype=torch.long)], dim=1)
    with torch.no_grad():
        short, _ = net(pairs.source, pairs.target)
        long, _ = net(padded, pairs.target)
        _, maps = greedy_decode(net, padded, 3)
    torch.testing.assert_close(short, long)
    assert float(maps[:, :, pairs.source.shape[1]:].abs().max()) == 0.0
    if attention != "none":  # each step's weights over the real words sum to one
        torch.testing.assert_close(maps.sum(-1), torch.ones(4, 3))


def test_bad_input_names_what_was_expected():
    with pytest.raises(ValueError, match="attention must be one of"):
        Seq2SeqConfig(10, 10, attention="luong")
    net = model("dot")
    with pytest.raises(ValueError, match="needs the target"):
        net(make_pairs(2).source)
    with pytest.raises(ValueError, match="at least one word"):
        net(torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))
