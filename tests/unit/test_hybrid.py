"""One stack, any mixer per layer (rnn2transformer.models.hybrid): every mixer trains through
the same Block, and a model generates one token at a time with the state it carries."""

import pytest
import torch

from rnn2transformer.models.hybrid import MIXERS, HybridConfig, HybridModel
from rnn2transformer.models.matrix_state import state_size


def model(layers, **options):
    torch.manual_seed(0)
    return HybridModel(HybridConfig(layers=layers, vocab_size=11, d_model=16, n_heads=2,
                                    d_ff=32, output_size=11, chunk=4, **options)).double()


@pytest.mark.parametrize("mixer", MIXERS)
def test_every_mixer_trains_and_streams_like_its_full_pass(mixer):
    m = model([mixer, "attention"])
    x = torch.randint(0, 11, (3, 10))
    out, loss = m(x, torch.randint(0, 11, (3, 10)))
    assert out.shape == (3, 10, 11) and loss.ndim == 0
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())
    with torch.no_grad():
        full, _ = m(x)
        first, state = m.forward_cached(x[:, :7])  # a prefix in one call, then a token a time
        pieces = [first]
        for t in range(7, 10):
            out_t, state = m.forward_cached(x[:, t : t + 1], state)
            pieces.append(out_t)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=0, atol=1e-10)


def test_a_recurrent_stack_carries_a_state_that_does_not_grow():
    m = model(["deltanet", "deltanet"], d_key=4)
    _, short = m.forward_cached(torch.randint(0, 11, (1, 5)))
    _, long = m.forward_cached(torch.randint(0, 11, (1, 500)))
    numbers = [sum(t.numel() for layer in s for t in layer) for s in (short, long)]
    assert numbers[0] == numbers[1] == state_size(m)  # conv + H d_key d_v per layer
    assert state_size(m) == 2 * (3 * 16 + 2 * 4 * 8)


def test_without_convolution_and_bad_configs():
    assert not any("conv" in name for name, _ in model(["mingru"], short_conv=None)
                   .named_modules())
    with pytest.raises(ValueError, match="layers must be one of"):
        HybridConfig(layers=["mamba"])
    with pytest.raises(ValueError, match="non-empty list of mixer names"):
        HybridConfig(layers=[])
    with pytest.raises(ValueError, match="short_conv must be an int >= 2"):
        HybridConfig(short_conv=1)
    with pytest.raises(TypeError, match="config must be a HybridConfig"):
        HybridModel({"layers": ["attention"]})


def test_equal_size_matches_every_stack_to_one_parameter_count():
    from rnn2transformer.models.pairs import equal_size
    from rnn2transformer.models.shared import count_parameters

    base = dict(vocab_size=20, d_model=16, d_ff=64, output_size=20)
    configs = {name: HybridConfig(layers=layers, **base) for name, layers in [
        ("attention", ["attention"] * 2), ("lstm", ["lstm"] * 2), ("mingru", ["mingru"] * 2),
        ("deltanet, d_key 4", ["deltanet"] * 2), ("hybrid", ["deltanet", "attention"])]}
    configs["deltanet, d_key 4"].d_key = 4
    torch.manual_seed(0)
    models = equal_size(configs)
    target = count_parameters(models["attention"])
    for name, m in models.items():
        assert abs(count_parameters(m) - target) <= len(m.config.layers) * (2 * 16 + 1), name
    torch.manual_seed(0)  # the trial builds use no random numbers: the same seed, the same model
    again = equal_size(configs)
    assert all(torch.equal(p, q) for p, q in zip(models["lstm"].parameters(),
                                                 again["lstm"].parameters(), strict=True))
    with pytest.raises(TypeError, match="configs must map names to HybridConfig"):
        equal_size({"x": 3})


@pytest.mark.parametrize("layers", [["attention", "attention"], ["lstm"], ["mingru", "deltanet"],
                                    ["linear_attention", "attention"]])
def test_carried_numbers_count_the_state_a_model_really_carries(layers):
    m = model(layers)
    T = 37
    with torch.no_grad():
        _, state = m.forward_cached(torch.randint(0, 11, (1, T)))

    def numbers(s):
        return s.numel() if torch.is_tensor(s) else sum(numbers(t) for t in s if t is not None)

    assert m.carried_numbers(T) == sum(numbers(layer) for layer in state)


def test_a_hybrid_of_mingru_layers_is_chapter_10s_linear_rnn_model():
    # Both are the one BlockStack: the same mixers in the same order draw the same weights.
    from rnn2transformer.models.linear_rnn import LinearRNNConfig, LinearRNNModel

    torch.manual_seed(0)
    hybrid = HybridModel(HybridConfig(layers=["mingru"] * 2, short_conv=None, vocab_size=65,
                                      output_size=65))
    torch.manual_seed(0)
    linear = LinearRNNModel(LinearRNNConfig(kind="mingru", n_layers=2))
    assert list(hybrid.state_dict()) == list(linear.state_dict())
    x = torch.randint(0, 65, (2, 9))
    torch.testing.assert_close(hybrid(x, x)[1], linear(x, x)[1], rtol=0, atol=0)
    out, state = hybrid.forward_cached(x)
    with pytest.raises(ValueError, match="one entry per layer"):
        hybrid.forward_from(x, state[:1])
    with pytest.raises(ValueError, match="one tensor per layer"):
        linear.forward_from(x, state[:1])
