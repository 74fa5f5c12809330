"""Chapter 1's optimisation tools: an optimiser's path for given gradients, and the best line."""

import pytest
import torch

from rnn2transformer.optimization import line_baseline, optimizer_path


def grads_and_start(steps=5, shape=(3, 2)):
    g = torch.Generator().manual_seed(0)
    return torch.randn(steps, *shape, generator=g, dtype=torch.float64), torch.randn(
        *shape, generator=g, dtype=torch.float64)


def test_sgd_and_momentum_follow_their_update_rules():
    grads, start = grads_and_start()
    path = optimizer_path("sgd", start, grads, lr=0.1, momentum=0.0)
    torch.testing.assert_close(path, start - 0.1 * grads.cumsum(0))
    theta, velocity, expected = start.clone(), torch.zeros_like(start), []
    for g in grads:  # v_t = mu v_{t-1} + g_t, theta_t = theta_{t-1} - lr v_t
        velocity = 0.9 * velocity + g
        theta = theta - 0.1 * velocity
        expected.append(theta)
    torch.testing.assert_close(optimizer_path("sgd", start, grads, lr=0.1, momentum=0.9),
                               torch.stack(expected))


def test_adamw_decays_outside_the_division_and_adam_inside():
    grads, start = grads_and_start(steps=7)
    lr, wd, (b1, b2), eps = 0.05, 0.2, (0.9, 0.999), 1e-8
    theta, m, v, expected = start.clone(), torch.zeros_like(start), torch.zeros_like(start), []
    for t, g in enumerate(grads, start=1):
        theta = theta * (1 - lr * wd)  # decoupled: not divided by sqrt(v)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g**2
        theta = theta - lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)
        expected.append(theta)
    torch.testing.assert_close(optimizer_path("adamw", start, grads, lr=lr, weight_decay=wd),
                               torch.stack(expected))
    adam = optimizer_path("adam", start, grads, lr=lr, weight_decay=wd)
    assert not torch.allclose(adam, torch.stack(expected))  # L2 in the gradient differs


def test_the_path_leaves_its_start_alone_and_refuses_bad_input():
    grads, start = grads_and_start()
    before = start.clone()
    assert optimizer_path("adam", start, grads, lr=0.1).shape == (5, 3, 2)
    assert torch.equal(start, before)
    with pytest.raises(ValueError, match="must be one of"):
        optimizer_path("lion", start, grads, lr=0.1)
    with pytest.raises(ValueError, match=r"grads must have shape \(T, 3, 2\)"):
        optimizer_path("sgd", start, grads[0], lr=0.1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        optimizer_path("sgd", start, grads, lr=0.0)


def test_the_best_line_separates_what_a_line_can_and_no_more():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 2, generator=g)
    halves = (x[:, 0] + 0.5 * x[:, 1] > 0).long()  # a line separates them
    found = line_baseline((x[:300], halves[:300]), (x[300:], halves[300:]))
    assert found["accuracy"] > 0.95
    xor = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()  # no line does better than about half
    found = line_baseline((x[:300], xor[:300]), (x[300:], xor[300:]))
    assert found["accuracy"] < 0.65 and found["loss"] == pytest.approx(0.69, abs=0.05)
    assert line_baseline((x[:300], xor[:300]), (x[300:], xor[300:])) == found  # deterministic
    with pytest.raises(TypeError, match="integer dtype"):
        line_baseline((x, x[:, 0]), (x, xor))
