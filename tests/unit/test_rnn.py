"""The recurrent network of chapter 3: scratch vs torch.nn.RNN, spectra, gradient probe."""

import cmath

import pytest
import torch
from torch import nn

from rnn2transformer import train
from rnn2transformer.book.explorers import recurrent_gradient_explorer
from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel, copy_weights
from rnn2transformer.models.rnn import (
    RNN,
    gradient_probe,
    matrix_with_eigenvalues,
    random_orthogonal,
    spectral_matrix,
)
from rnn2transformer.synthetic import ADDING_BASELINE_MSE, adding_batches, adding_problem

from .parity import assert_scratch_matches_torch


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_scratch_rnn_matches_torch_outputs_and_gradients(nonlinearity):
    torch.manual_seed(0)
    reference = nn.RNN(3, 5, nonlinearity=nonlinearity, batch_first=True)
    scratch = RNN(3, 5, nonlinearity)
    copy_weights(reference, scratch)
    assert_scratch_matches_torch(scratch, reference, torch.randn(4, 7, 3), torch.randn(4, 5))


def test_copy_goes_both_ways_and_checks_shapes():
    scratch, reference = RNN(2, 4), nn.RNN(2, 4, batch_first=True)
    copy_weights(scratch, reference)
    assert torch.equal(reference.weight_hh_l0, scratch.cell.weight_hh)
    with pytest.raises(ValueError, match="shapes differ"):
        copy_weights(RNN(2, 3), reference)
    with pytest.raises(TypeError, match="expected an RNN, LSTM"):
        copy_weights(nn.Linear(2, 2), reference)


def test_rnn_layer_validates_input_shape():
    with pytest.raises(ValueError, match=r"shape \(B, T, 2\) with T >= 1, got \(1, 5, 3\)"):
        RNN(2, 4)(torch.randn(1, 5, 3))
    with pytest.raises(ValueError, match=r"T >= 1, got \(1, 0, 2\)"):
        RNN(2, 4)(torch.randn(1, 0, 2))  # no steps: nothing to return as the last state
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        RNN(2, 4, "softplus")


def test_linear_rnn_unrolls_into_powers_of_the_recurrent_matrix():
    torch.manual_seed(0)
    layer = RNN(2, 3, "linear")
    with torch.no_grad():
        layer.cell.bias_ih.zero_()
        layer.cell.bias_hh.zero_()
    W, Z = layer.cell.weight_ih.detach(), layer.cell.weight_hh.detach()
    x, h0 = torch.randn(1, 3, 2), torch.randn(1, 3)
    _, h3 = layer(x, h0)
    # H_3 = Z^3 H_0 + Z^2 W x_0 + Z W x_1 + W x_2
    expected = (torch.linalg.matrix_power(Z, 3) @ h0[0] + Z @ Z @ W @ x[0, 0]
                + Z @ W @ x[0, 1] + W @ x[0, 2])
    torch.testing.assert_close(h3[0], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.3])
def test_spectral_matrix_has_the_requested_spectral_radius(radius):
    W = spectral_matrix(16, radius, seed=3)
    eigenvalues = torch.linalg.eigvals(W.double())
    assert eigenvalues.abs().max().item() == pytest.approx(radius, rel=1e-5)
    assert eigenvalues.abs().min().item() == pytest.approx(radius, rel=1e-5)
    q = random_orthogonal(16, seed=3)
    torch.testing.assert_close(q @ q.T, torch.eye(16), atol=1e-5, rtol=0)


def test_matrix_with_eigenvalues_real_and_complex():
    values = [0.5, -0.9, cmath.rect(1.1, 0.4), cmath.rect(1.1, -0.4)]
    W = matrix_with_eigenvalues(values, seed=1, dtype=torch.float64)
    got = sorted(torch.linalg.eigvals(W).tolist(), key=lambda z: (z.real, z.imag))
    want = sorted(values, key=lambda z: (complex(z).real, complex(z).imag))
    for g, w in zip(got, want, strict=True):
        assert abs(g - w) < 1e-9
    with pytest.raises(ValueError, match="followed by its conjugate"):
        matrix_with_eigenvalues([1j, 0.5])


@pytest.mark.parametrize("radius", [0.8, 1.0, 1.2])
def test_gradient_probe_gives_lambda_to_the_distance_for_a_linear_rnn(radius):
    torch.manual_seed(0)
    layer = RNN(1, 16, "linear")
    with torch.no_grad():
        layer.cell.weight_hh.copy_(spectral_matrix(16, radius, seed=0))
    table = gradient_probe(layer, torch.randn(1, 40, 1))
    assert table["distance"].tolist() == list(range(39, -1, -1))
    expected = radius ** table["distance"]
    relative = ((table["jacobian_norm"] - expected) / expected).abs().max()
    assert relative < 1e-5


def test_gradient_probe_stays_under_the_tanh_bound():
    torch.manual_seed(0)
    layer = RNN(1, 16, "tanh")
    with torch.no_grad():
        layer.cell.weight_hh.copy_(spectral_matrix(16, 0.9, seed=0))
    table = gradient_probe(layer, torch.randn(1, 30, 1))
    bound = 0.9 ** table["distance"]
    assert (table["jacobian_norm"] <= bound * (1 + 1e-5)).all()
    # a linear layer with these weights meets the bound; tanh's slope below 1 stays far under it
    assert (table["jacobian_norm"] / bound).iloc[0] < 0.5
    with pytest.raises(ValueError, match="one sequence"):
        gradient_probe(layer, torch.randn(2, 5, 1))


def test_adding_problem_structure_and_baseline():
    g = torch.Generator().manual_seed(0)
    x, y = adding_problem(20_000, 50, generator=g)
    assert x.shape == (20_000, 50, 2) and y.shape == (20_000,)
    markers = x[..., 1]
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :25].sum(1) == 1).all() and (markers[:, 25:].sum(1) == 1).all()
    torch.testing.assert_close(y, (x[..., 0] * markers).sum(1))
    baseline = ((y - 1.0) ** 2).mean().item()
    assert baseline == pytest.approx(ADDING_BASELINE_MSE, rel=0.03)
    again = adding_problem(20_000, 50, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[0], x) and torch.equal(again[1], y)


@pytest.mark.slow
def test_rnn_regressor_learns_a_short_adding_problem():
    torch.manual_seed(0)
    model = RecurrentModel(RecurrentConfig(kind="rnn", hidden_size=32))
    val = adding_problem(500, 6, generator=torch.Generator().manual_seed(1))
    history = train(model, adding_batches(6, batch_size=64), val_data=val, steps=600, lr=3e-3,
                    clip_grad_norm=1.0)
    assert history["val_loss"].iloc[-1] < 0.3 * ADDING_BASELINE_MSE


def test_regressor_implementations_agree():
    torch.manual_seed(0)
    fast = RecurrentModel(RecurrentConfig(kind="rnn", hidden_size=8))
    slow = RecurrentModel(RecurrentConfig(kind="rnn", hidden_size=8, implementation="scratch"))
    copy_weights(fast.rnn, slow.rnn)
    slow.head.load_state_dict(fast.head.state_dict())
    x, y = adding_problem(4, 10)
    torch.testing.assert_close(fast(x, y)[0], slow(x, y)[0])
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        RecurrentConfig(kind="rnn", nonlinearity="linear")  # torch.nn.RNN has no linear option


def test_recurrent_explorer_recomputes():
    explorer = recurrent_gradient_explorer(length=20)
    before = explorer.result["jacobian_norm"].iloc[0]
    explorer.controls["spectral_radius"].value = 0.5
    explorer.controls["nonlinearity"].value = "linear"
    after = explorer.result["jacobian_norm"].iloc[0]
    assert after != before
    assert after == pytest.approx(0.5**19, rel=1e-4)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid", "linear"])
def test_bptt_by_hand_equals_autograd(nonlinearity):
    from rnn2transformer.models.rnn import bptt_weight_gradient

    torch.manual_seed(0)
    layer = RNN(3, 5, nonlinearity).double()
    x = torch.randn(4, 12, 3, dtype=torch.float64)
    h0 = torch.randn(4, 5, dtype=torch.float64)
    targets = torch.randn(4, 12, 5, dtype=torch.float64)
    out, _ = layer(x, h0)
    loss = ((out - targets) ** 2).sum()
    loss.backward()
    upstream = 2 * (out - targets).detach()  # dL/dh_t from each step's own term
    grad, contributions = bptt_weight_gradient(layer, x, upstream, h0)
    torch.testing.assert_close(grad, layer.cell.weight_hh.grad)
    # the gradient is the sum of the steps' terms, so its norm is at most the sum of theirs
    assert contributions.shape == (12,) and grad.norm() <= contributions.sum() * (1 + 1e-12)
    assert contributions.min() > 0  # over 12 steps, every step still counts
    with pytest.raises(ValueError, match="upstream must have shape"):
        bptt_weight_gradient(layer, x, upstream[:, :3], h0)
