"""Generation and streaming (rnn2transformer.sampling): seeded sampling, temperature and
top-k, the key/value cache, and the state a stream carries."""

import pytest
import torch

from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel
from rnn2transformer.models.transformer import TransformerConfig, TransformerModel
from rnn2transformer.sampling import generate, next_token_distribution, streaming_cost

from .test_transfer import small_lstm, small_transformer


def test_generate_is_seeded_and_returns_new_tokens_only():
    torch.manual_seed(0)
    model = RecurrentModel(RecurrentConfig(kind="lstm", vocab_size=7, input_size=4,
                                           hidden_size=8, output_size=7, readout="all",
                                           loss="cross_entropy"))
    a = generate(model, [1, 2], 10, seed=3)
    assert len(a) == 10 and all(0 <= t < 7 for t in a)
    assert generate(model, [1, 2], 10, seed=3) == a
    with pytest.raises(ValueError, match="prompt"):
        generate(model, [], 3)


def test_temperature_and_top_k_reshape_the_next_token_distribution():

    logits = torch.tensor([2.0, 1.0, 0.5, -1.0, 0.0])
    assert torch.allclose(next_token_distribution(logits), torch.softmax(logits, -1))

    def entropy(p):
        p = p[p > 0]
        return float(-(p * p.log()).sum())

    sharp, plain, flat = (next_token_distribution(logits, temperature=t) for t in (0.5, 1, 2))
    assert entropy(sharp) < entropy(plain) < entropy(flat)
    assert sharp.argmax() == plain.argmax() == flat.argmax()  # the order never changes
    top2 = next_token_distribution(logits, top_k=2)
    assert (top2 > 0).sum() == 2 and torch.isclose(top2.sum(), torch.tensor(1.0))
    assert torch.allclose(top2[:2], torch.softmax(logits[:2], -1))
    with pytest.raises(ValueError, match="top_k must be an int >= 1"):
        next_token_distribution(logits, top_k=0)
    with pytest.raises(ValueError, match="temperature"):
        next_token_distribution(logits, temperature=0.0)


@pytest.mark.parametrize("build", [small_transformer, small_lstm])
def test_cached_generation_matches_rerunning_the_prefix(build):
    torch.manual_seed(0)
    model = build()
    fast = generate(model, [1, 2, 3], 8, seed=4)
    slow = generate(model, [1, 2, 3], 8, seed=4, use_cache=False)
    assert fast == slow


def test_streaming_state_grows_for_attention_and_not_for_the_lstm():
    torch.manual_seed(0)
    tf = TransformerModel(TransformerConfig(vocab_size=9, d_model=16, n_heads=2, n_layers=2,
                                            d_ff=32, causal=True, output_size=9, readout="all",
                                            loss="cross_entropy"))
    tf_cost = streaming_cost(tf, positions=[8, 32], vocab_size=9, repeats=2)
    lstm_cost = streaming_cost(small_lstm(), positions=[8, 32], vocab_size=9, repeats=2)
    # keys and values: 2 layers x 2 tensors x (1, 2 heads, p, 8) float32
    assert tf_cost.state_bytes.tolist() == [2 * 2 * 2 * p * 8 * 4 for p in (8, 32)]
    assert lstm_cost.state_bytes.tolist() == [2 * 8 * 4] * 2  # h and c
    # the spread of the repeats comes with the median, for a page that compares two models
    assert (tf_cost.ms_fastest <= tf_cost.ms_per_token).all()
    assert (tf_cost.ms_per_token <= tf_cost.ms_slowest).all()
