"""The encoder-decoder of chapter 5 and its generated language pair."""

import pytest
import torch

from rnn2transformer import train
from rnn2transformer.models.seq2seq import (
    Seq2Seq,
    Seq2SeqConfig,
    beam_search,
    exact_match,
    greedy_decode,
    log_probability,
)
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


@pytest.fixture(scope="module")
def trained():
    """A small model trained briefly (about 2 s): its word distributions are peaked, where an
    untrained model's are nearly uniform. (``train`` also fits torch's threads to the free
    cores: a loop of its own on two threads of a busy machine took 8 times as long.)"""
    pairs, net = make_pairs(512, seed=11), model("general")
    train(net, (pairs.source, pairs.target), steps=120, batch_size=32, lr=2e-2, device="cpu",
          progress=False)
    return net.eval()


def reference_beam(net, source, max_len, beam_width):
    """Beam search for one sentence written the plain way: lists of (score, words, state)."""
    with torch.no_grad():
        memory = net.encode(source.unsqueeze(0))
        live, best = [(0.0, [], memory.final)], None
        for _ in range(max_len):
            candidates = []
            for score, words, state in live:
                previous = torch.tensor([words[-1] if words else net.config.bos_id])
                logits, state, _ = net.step(previous, state, memory)
                log_p = torch.log_softmax(logits[0], dim=-1).tolist()
                candidates += [(score + lp, words + [w], state) for w, lp in enumerate(log_p)]
            candidates.sort(key=lambda c: -c[0])
            for c in candidates[:beam_width]:  # an <eos> among the best finishes
                if c[1][-1] == net.config.eos_id and (best is None or c[0] > best[0]):
                    best = c
            live = [c for c in candidates if c[1][-1] != net.config.eos_id][:beam_width]
            if best is not None and best[0] >= live[0][0]:  # no live one can still win
                break
    score, words, _ = best or live[0]
    return words + [0] * (max_len - len(words)), score


@pytest.mark.parametrize("attention", ["none", "additive", "dot", "general"])
def test_beam_width_one_is_greedy_decoding(attention, trained):
    pairs = make_pairs(32, seed=5)
    max_len = pairs.target.shape[1]
    for net in (model(attention, seed=1), model(attention, seed=2), trained):
        greedy, _ = greedy_decode(net, pairs.source, max_len)
        words, scores = beam_search(net, pairs.source, max_len, beam_width=1)
        assert torch.equal(words, greedy)
        torch.testing.assert_close(scores, log_probability(net, pairs.source, greedy),
                                   atol=1e-4, rtol=0)


def test_beam_search_keeps_the_best_hypotheses_of_every_sentence_at_once(trained):
    pairs = make_pairs(6, seed=7)
    max_len = pairs.target.shape[1]
    for net in (model("additive"), trained):
        for width in (2, 3):
            words, scores = beam_search(net, pairs.source, max_len, beam_width=width)
            for i in range(6):  # the batched search finds what the plain one finds
                expected, score = reference_beam(net, pairs.source[i], max_len, width)
                assert words[i].tolist() == expected
                assert abs(float(scores[i]) - score) < 1e-4


def test_a_wider_beam_finds_more_likely_translations_than_greedy(trained):
    pairs = make_pairs(64, seed=5)
    max_len = pairs.target.shape[1]
    greedy, _ = greedy_decode(trained, pairs.source, max_len)
    greedy_score = log_probability(trained, pairs.source, greedy)
    finished = (greedy == trained.config.eos_id).any(dim=1)  # compare whole translations
    assert int(finished.sum()) >= 48
    for width in (2, 3, 5):
        words, scores = beam_search(trained, pairs.source, max_len, beam_width=width)
        torch.testing.assert_close(scores, log_probability(trained, pairs.source, words),
                                   atol=1e-4, rtol=0)  # the score is the model's own
        gain = (scores - greedy_score)[finished]
        # Not for every sentence: beam search is not an exact search, and the greedy path can
        # be pruned early for prefixes that later end worse (here 3 or 4 of the 57 sentences
        # greedy finishes). On average, and for most sentences, the wider search wins (by
        # 0.6, 1.2 and 1.5 nats on average for widths 2, 3 and 5).
        assert float(gain.mean()) > 0.25
        assert int((gain >= -1e-4).sum()) >= 0.75 * len(gain)
    wide, _ = beam_search(trained, pairs.source, max_len, beam_width=5)
    long, scores = beam_search(trained, pairs.source, max_len, beam_width=5, length_penalty=1.0)
    torch.testing.assert_close(scores, log_probability(trained, pairs.source, long),
                               atol=1e-4, rtol=0)  # ranked by log P / lp, reported as log P
    assert int((long != 0).sum()) >= int((wide != 0).sum())  # the penalty favours longer ones


def test_beam_search_refuses_bad_arguments():
    net, source = model("dot"), make_pairs(2).source
    with pytest.raises(ValueError, match="beam_width must be an int >= 1, got 0"):
        beam_search(net, source, 5, beam_width=0)
    with pytest.raises(TypeError, match=r"beam_width must be an int, got 2.0 \(float\)"):
        beam_search(net, source, 5, beam_width=2.0)
    with pytest.raises(ValueError, match="max_len must be an int >= 1, got 0"):
        beam_search(net, source, 0, beam_width=2)
    with pytest.raises(ValueError, match="length_penalty must be >= 0.0, got -0.5"):
        beam_search(net, source, 5, beam_width=2, length_penalty=-0.5)
    with pytest.raises(TypeError, match="model must be a Seq2Seq, got Linear"):
        beam_search(torch.nn.Linear(2, 2), source, 5, beam_width=2)
    with pytest.raises(TypeError, match="source must have an integer dtype"):
        beam_search(net, source.float(), 5, beam_width=2)
    with pytest.raises(TypeError, match="model must be a Seq2Seq, got Linear"):
        log_probability(torch.nn.Linear(2, 2), source, source)
