"""Linear recurrences (rnn2transformer.models.linear_rnn): the parallel scan equals the loop,
and minGRU/minLSTM run the same recurrence by scan, by loop and one step at a time."""

import pytest
import torch

from rnn2transformer.models.linear_rnn import (
    MinGRU,
    MinLSTM,
    linear_scan,
    scan_depth,
    sequential_scan,
)


def pairs(T, *, dtype=torch.float64, seed=0, tiny=False):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(3, T, 5, generator=g, dtype=dtype)  # decays in (0, 1)
    if tiny:  # values near 0, which a log-space scan could not take
        a = a * 1e-8
    b = torch.randn(3, T, 5, generator=g, dtype=dtype)  # of either sign
    h0 = torch.randn(3, 5, generator=g, dtype=dtype)
    return a, b, h0


@pytest.mark.parametrize("T", [1, 2, 3, 7, 64, 1000, 4096])
def test_the_scan_equals_the_loop_in_float64(T):
    a, b, h0 = pairs(T)
    for start in (None, h0):
        torch.testing.assert_close(linear_scan(a, b, start), sequential_scan(a, b, start),
                                   rtol=0, atol=1e-10)


def test_the_scan_equals_the_loop_for_decays_near_zero_and_negative_inputs():
    a, b, h0 = pairs(300, tiny=True)
    torch.testing.assert_close(linear_scan(a, b, h0), sequential_scan(a, b, h0), rtol=0,
                               atol=1e-10)


def test_the_scan_equals_the_loop_in_float32():
    a, b, h0 = pairs(4096, dtype=torch.float32)
    torch.testing.assert_close(linear_scan(a, b, h0), sequential_scan(a, b, h0), rtol=0,
                               atol=1e-5)


def test_gradients_through_the_scan_equal_those_through_the_loop():
    grads = []
    for scan in (linear_scan, sequential_scan):
        a, b, h0 = (t.requires_grad_() for t in pairs(50))
        (scan(a, b, h0) ** 2).sum().backward()
        grads.append([a.grad, b.grad, h0.grad])
    for mine, theirs in zip(*grads, strict=True):
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
