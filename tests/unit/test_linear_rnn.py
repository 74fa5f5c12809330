"""Linear recurrences (rnn2transformer.models.linear_rnn): the parallel scan equals the loop,
and minGRU/minLSTM run the same recurrence by scan, by loop and one step at a time."""

import dataclasses

import pytest
import torch

from rnn2transformer.models.linear_rnn import (
    LinearRNNConfig,
    LinearRNNModel,
    MinGRU,
    MinLSTM,
    doubling_scan,
    linear_scan,
    log_space_scan,
    scan_depth,
    sequential_scan,
)
from rnn2transformer.models.pairs import char_lm_trio
from rnn2transformer.models.shared import count_parameters


def pairs(T, *, dtype=torch.float64, seed=0, tiny=False):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(3, T, 5, generator=g, dtype=dtype)  # decays in (0, 1)
    if tiny:  # values near 0, which a log-space scan could not take
        a = a * 1e-8
    b = torch.randn(3, T, 5, generator=g, dtype=dtype)  # of either sign
    h0 = torch.randn(3, 5, generator=g, dtype=dtype)
    return a, b, h0


SCANS = [linear_scan, doubling_scan]


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("T", [1, 2, 3, 5, 7, 64, 1000, 4096])
def test_the_scan_equals_the_loop_in_float64(T, scan):
    a, b, h0 = pairs(T)
    for start in (None, h0):
        torch.testing.assert_close(scan(a, b, start), sequential_scan(a, b, start),
                                   rtol=0, atol=1e-10)


@pytest.mark.parametrize("scan", SCANS)
def test_the_scan_equals_the_loop_for_decays_near_zero_and_negative_inputs(scan):
    a, b, h0 = pairs(300, tiny=True)
    torch.testing.assert_close(scan(a, b, h0), sequential_scan(a, b, h0), rtol=0, atol=1e-10)


@pytest.mark.parametrize("scan", SCANS)
def test_the_scan_equals_the_loop_in_float32(scan):
    a, b, h0 = pairs(4096, dtype=torch.float32)
    torch.testing.assert_close(scan(a, b, h0), sequential_scan(a, b, h0), rtol=0, atol=1e-5)


def test_gradients_through_the_scan_equal_those_through_the_loop():
    grads = []
    for scan in (linear_scan, doubling_scan, sequential_scan):
        a, b, h0 = (t.requires_grad_() for t in pairs(50))
        (scan(a, b, h0) ** 2).sum().backward()
        grads.append([a.grad, b.grad, h0.grad])
    for scanned in grads[:2]:
        for mine, theirs in zip(scanned, grads[2], strict=True):
            torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-10)


def test_the_scan_takes_log2_t_rounds():
    assert [scan_depth(t) for t in (1, 2, 3, 4, 5, 1024, 4096)] == [0, 1, 2, 2, 3, 10, 12]


@pytest.mark.parametrize("layer", [MinGRU, MinLSTM])
def test_scan_loop_and_steps_give_the_same_states(layer):
    torch.manual_seed(0)
    model = layer(4, 6).double()
    x = torch.randn(2, 40, 4, dtype=torch.float64)
    out, last = model(x)
    loop_out, loop_last = model.forward_loop(x)
    torch.testing.assert_close(out, loop_out, rtol=0, atol=1e-10)
    state = None
    for t in range(x.shape[1]):  # one token at a time, a constant-size state
        state = model.step(x[:, t], state)
        torch.testing.assert_close(state, out[:, t], rtol=0, atol=1e-10)
    torch.testing.assert_close(last, state, rtol=0, atol=1e-10)
    first, carried = model(x[:, :15])
    rest, _ = model(x[:, 15:], carried)  # a stream continued from its state
    torch.testing.assert_close(torch.cat([first, rest], dim=1), out, rtol=0, atol=1e-10)


def test_minlstm_normalises_its_gates_to_sum_to_one():
    torch.manual_seed(0)
    model = MinLSTM(3, 4)
    x = torch.randn(2, 5, 3)
    a, b = model.coefficients(x)
    i = torch.sigmoid(model.input_gate(x))
    f = torch.sigmoid(model.gate(x))
    torch.testing.assert_close(a + i / (f + i), torch.ones_like(a))


def test_bad_input_is_refused_with_what_was_expected():
    a, b, h0 = pairs(5)
    with pytest.raises(ValueError, match=r"same shape \(B, T, D\)"):
        linear_scan(a, b[:, :4])
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, D\) = \(3, 5\)"):
        linear_scan(a, b, h0[:, :2])
    with pytest.raises(TypeError, match="floating dtype"):
        sequential_scan(a.long(), b)
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, 4\)"):
        MinGRU(4, 6)(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="hidden_size must be an int >= 1"):
        MinGRU(4, 0)


@pytest.mark.parametrize("T", [1, 5, 256, 1000])
def test_the_log_space_form_equals_the_loop_for_both_signs_of_b(T):
    a, b, h0 = pairs(T)
    a = 0.05 + 0.95 * a  # gates in (0, 1]: the log-space form needs log a
    for start in (None, h0):
        torch.testing.assert_close(log_space_scan(a, b, start), sequential_scan(a, b, start),
                                   rtol=0, atol=1e-9)


def test_the_log_space_form_survives_where_the_closed_form_as_written_overflows():
    g = torch.Generator().manual_seed(0)
    a = 0.5 + 0.5 * torch.rand(1, 2000, 4, generator=g)
    b = torch.randn(1, 2000, 4, generator=g)
    A = torch.cumprod(a, dim=1)
    assert not torch.isfinite(A * torch.cumsum(b / A, dim=1)).all()  # the naive form fails
    reference = sequential_scan(a.double(), b.double())
    got = log_space_scan(a, b)
    assert torch.isfinite(got).all()
    assert (got.double() - reference).abs().max() < 1e-2  # float32 loses digits, not the value


def test_log_space_gradients_are_finite_and_match_the_loop():
    a, b, _ = pairs(40)
    a = (0.1 + 0.9 * a).requires_grad_()
    b = b.requires_grad_()
    weights = torch.randn(3, 40, 5, dtype=torch.float64)
    grads = [torch.autograd.grad((f(a, b) * weights).sum(), (a, b))
             for f in (log_space_scan, sequential_scan)]
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        log_space_scan(torch.zeros(1, 3, 2), torch.zeros(1, 3, 2))


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
def test_the_model_streams_step_by_step_to_the_same_outputs(kind):
    torch.manual_seed(0)
    model = LinearRNNModel(LinearRNNConfig(kind=kind, vocab_size=11, d_model=8, n_layers=2,
                                           d_ff=16, output_size=11)).double().eval()
    x = torch.randint(0, 11, (2, 9))
    whole, _ = model(x)
    state, pieces = None, []
    for t in range(9):  # one token at a time, with a state of one (B, d) vector per layer
        out, state = model.forward_cached(x[:, t:t + 1], state)
        pieces.append(out)
        assert [tuple(s.shape) for s in state] == [(2, 8), (2, 8)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, rtol=0, atol=1e-12)
    loop = LinearRNNModel(dataclasses.replace(model.config, scan=False)).double()
    loop.load_state_dict(model.state_dict())
    torch.testing.assert_close(loop(x)[0], whole, rtol=0, atol=1e-12)
    _, loss = model(x, x)
    assert loss.ndim == 0 and torch.isfinite(loss)


def test_the_model_refuses_bad_configs_and_inputs():
    with pytest.raises(ValueError, match="kind"):
        LinearRNNConfig(kind="lstm")
    with pytest.raises(ValueError, match="d_model"):
        LinearRNNConfig(d_model=0)
    with pytest.raises(TypeError, match="LinearRNNConfig"):
        LinearRNNModel({"kind": "mingru"})
    model = LinearRNNModel(LinearRNNConfig(vocab_size=5, d_model=4, d_ff=8, output_size=5))
    with pytest.raises(TypeError, match="x must have an integer dtype"):
        model(torch.randn(2, 3))
    with pytest.raises(ValueError, match="one tensor per layer"):
        model.forward_from(torch.zeros(1, 3, dtype=torch.long), [torch.zeros(1, 4)])


@pytest.mark.parametrize("width", [32, 64])
def test_the_trio_has_three_models_of_the_same_size(width):
    models = char_lm_trio(width)
    sizes = {name: count_parameters(m) for name, m in models.items()}
    assert set(sizes) == {"LSTM", "minGRU", "Transformer"}
    target = sizes["Transformer"]
    for name, size in sizes.items():
        assert abs(size - target) / target < 0.01, (name, sizes)


def test_a_signed_mingru_decays_in_minus_one_to_one_and_still_scans_like_its_loop():
    torch.manual_seed(0)
    layer = MinGRU(4, 6, signed=True).double()
    x = 3 * torch.randn(2, 30, 4, dtype=torch.float64)
    a, _ = layer.coefficients(x)
    assert (a > -1).all() and (a < 1).all() and (a < 0).any()
    torch.testing.assert_close(layer(x)[0], layer.forward_loop(x)[0], rtol=0, atol=1e-10)
    with pytest.raises(TypeError, match="signed must be True or False"):
        MinGRU(4, 6, signed=1)


def test_through_layers_hands_each_layer_its_own_entry_and_refuses_a_wrong_count():
    from torch import nn

    from rnn2transformer.models.shared import through_layers

    class AddCarried(nn.Module):  # adds what it carried, carries its input on
        def forward(self, h, carried):
            return h + (0 if carried is None else carried), h

    blocks = nn.ModuleList([AddCarried(), AddCarried()])
    h = torch.ones(2)
    out, carried = through_layers(blocks, h, None)
    assert torch.equal(out, h) and [c.tolist() for c in carried] == [[1, 1], [1, 1]]
    out, carried = through_layers(blocks, h, [torch.full((2,), 2.0), torch.full((2,), 3.0)])
    assert out.tolist() == [6.0, 6.0] and carried[1].tolist() == [3.0, 3.0]
    with pytest.raises(ValueError, match=r"cache must hold one \(k, v\) per layer \(2\), got 1"):
        through_layers(blocks, h, [h], name="cache", entry="(k, v)")
