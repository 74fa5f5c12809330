"""The encoder-decoder of chapter 5 and its generated language pair."""

import pytest
import torch

from rnn2transformer import train
from rnn2transformer.models.seq2seq import (
    DecoderBlock,
    Seq2Seq,
    Seq2SeqConfig,
    TransformerSeq2Seq,
    TransformerSeq2SeqConfig,
    beam_search,
    copy_decoder_block_weights,
    exact_match,
    greedy_decode,
    log_probability,
    trim_padding,
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


# --- the encoder-decoder Transformer ----------------------------------------------------------

def transformer(seed=0, **sizes):
    torch.manual_seed(seed)
    config = TransformerSeq2SeqConfig(len(SOURCE_WORDS), len(TARGET_WORDS),
                                      **{"d_model": 16, "n_heads": 2, "d_ff": 24, **sizes})
    return TransformerSeq2Seq(config).eval()


def test_transformer_shapes_loss_and_cross_attention_maps():
    pairs, net = make_pairs(6, seed=1), transformer()
    logits, loss = net(pairs.source, pairs.target)
    assert logits.shape == (*pairs.target.shape, len(TARGET_WORDS)) and loss.ndim == 0
    loss.backward()  # every parameter takes part
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    maps = net.cross_attention(pairs.source, pairs.target)
    S, T = pairs.source.shape[1], pairs.target.shape[1]
    assert maps.shape == (2, 6, 2, T, S)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 6, 2, T))  # a distribution each
    padded = pairs.source == 0  # padding gets no weight, from any query of any head
    assert float(maps.masked_select(padded[None, :, None, None, :]).abs().max()) == 0.0
    words, greedy_maps = greedy_decode(net, pairs.source, T)
    assert words.shape == (6, T) and greedy_maps.shape == (6, T, S)
    assert exact_match(net, pairs.source, pairs.target).shape == (6,)


def test_transformer_decoder_cannot_see_future_target_words():
    pairs, net = make_pairs(4, seed=3), transformer()
    target = pairs.target.clone()
    with torch.no_grad():
        before, _ = net(pairs.source, target)
        t = 3  # change every word from position t on: the logits up to t must not move
        target[:, t:] = torch.randint(3, len(TARGET_WORDS), target[:, t:].shape)
        after, _ = net(pairs.source, target)
    # position t reads <bos> and target[:, :t], so it may not change; t + 1 on reads the change
    torch.testing.assert_close(before[:, : t + 1], after[:, : t + 1])
    assert not torch.allclose(before[:, t + 1:], after[:, t + 1:])


def test_transformer_padding_of_the_source_changes_nothing():
    pairs, net = make_pairs(4, seed=2), transformer()
    padded = torch.cat([pairs.source, torch.zeros(4, 5, dtype=torch.long)], dim=1)
    with torch.no_grad():
        short, _ = net(pairs.source, pairs.target)
        long, _ = net(padded, pairs.target)
    torch.testing.assert_close(short, long)


@pytest.mark.parametrize("seed", [0, 1])
def test_transformer_greedy_decoding_equals_decoding_step_by_step(seed):
    """The cached decoder, one word at a time, writes what the full pass predicts: feeding the
    greedy words back as the target, every position's argmax is the word greedy wrote."""
    pairs, net = make_pairs(16, seed=4), transformer(seed)
    train(net, (pairs.source, pairs.target), steps=30, batch_size=16, lr=1e-2, device="cpu",
          progress=False)  # a little training, so the words are not all the same
    max_len = pairs.target.shape[1]
    words, maps = greedy_decode(net, pairs.source, max_len)
    with torch.no_grad():  # the plain way: rerun the whole prefix for every new word
        memory = net.encode(pairs.source)
        previous = torch.full((16, 1), net.config.bos_id)
        for _ in range(max_len):
            logits, weights = net.decode(previous, memory, need_weights=True)
            previous = torch.cat([previous, logits[:, -1:].argmax(-1)], dim=1)
    plain = previous[:, 1:]
    done = (plain == net.config.eos_id).cumsum(1) - (plain == net.config.eos_id).long() > 0
    assert torch.equal(words, plain.masked_fill(done, 0))
    torch.testing.assert_close(maps, weights[-1].mean(dim=1))  # the last block's, head mean


def test_decoder_block_equals_torch_transformer_decoder_layer_with_copied_weights():
    torch.manual_seed(0)
    ours, theirs = DecoderBlock(16, 4, 40), torch.nn.TransformerDecoderLayer(
        16, 4, dim_feedforward=40, dropout=0.0, batch_first=True, norm_first=True)
    copy_decoder_block_weights(theirs, ours)  # from torch's layout into ours
    x, memory = torch.randn(3, 7, 16), torch.randn(3, 5, 16)
    keep = torch.tensor([[True] * 5, [True] * 3 + [False] * 2, [True] * 4 + [False]])
    out, _ = ours(x, memory, keep)
    expected = theirs(x, memory, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(7),
                      tgt_is_causal=True, memory_key_padding_mask=~keep)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    copy_decoder_block_weights(ours, DecoderBlock(16, 4, 40))  # and back again
    with pytest.raises(TypeError, match="expected DecoderBlock"):
        copy_decoder_block_weights(ours, torch.nn.Linear(2, 2))


def test_transformer_config_and_inputs_are_checked():
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads"):
        TransformerSeq2SeqConfig(10, 10, d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="target_vocab_size"):
        TransformerSeq2SeqConfig(10, 2)
    net = transformer()
    with pytest.raises(ValueError, match="needs the target"):
        net(make_pairs(2).source)
    with pytest.raises(ValueError, match="at least one word"):
        net(torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="TransformerSeq2SeqConfig"):
        TransformerSeq2Seq(Seq2SeqConfig(10, 10))
    with pytest.raises(TypeError, match="model must be a Seq2Seq or a TransformerSeq2Seq"):
        greedy_decode(torch.nn.Linear(2, 2), make_pairs(2).source, 3)


@pytest.mark.parametrize("family", ["gru", "transformer"])
def test_columns_of_padding_are_skipped_and_change_nothing_the_loss_reads(family):
    pairs = make_pairs(12, seed=6)
    net = model("additive") if family == "gru" else transformer()
    wide_source = torch.cat([pairs.source, torch.zeros(12, 4, dtype=torch.long)], dim=1)
    wide_target = torch.cat([pairs.target, torch.zeros(12, 3, dtype=torch.long)], dim=1)
    source, target, width = trim_padding(wide_source, wide_target)
    assert torch.equal(source, pairs.source) and torch.equal(target, pairs.target)
    assert width == pairs.target.shape[1] + 3
    with torch.no_grad():
        logits, loss = net(pairs.source, pairs.target)
        wide_logits, wide_loss = net(wide_source, wide_target)
    torch.testing.assert_close(wide_loss, loss)
    torch.testing.assert_close(wide_logits[:, : pairs.target.shape[1]], logits)
    assert wide_logits.shape[1] == width and float(wide_logits[:, -3:].abs().max()) == 0.0
    # a column counts while any sentence has a word there, even after a 0 inside a sentence
    gappy = torch.tensor([[5, 0, 7, 0, 0]])
    assert trim_padding(gappy, gappy)[0].shape == (1, 3)
