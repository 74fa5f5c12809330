"""Matrix-state recurrences (rnn2transformer.models.matrix_state): the recurrent, chunkwise and
parallel forms of linear attention and of the delta rule give the same outputs, states and
gradients; the layers run the same by chunks, by loop, in parallel and one token at a time;
and the delta rule stores and overwrites what the additive rule can only add.

Tolerances are relative to the output's scale: max |got - want| <= tol * max |want|. The
outputs of an undecayed sum grow with T (about sqrt(T) here), so an absolute tolerance would
be loose at T = 10 and tight at T = 4,096 for the same rounding. float64: 1e-10 (the forms
agree to about 1e-14, rounding only). float32: 1e-5 against the float64 recurrence (the worst
measured, T = 4,096, is about 3e-6, the parallel delta rule without decay)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnn2transformer.models.matrix_state import (
    DeltaNet,
    LinearAttention,
    ShortConv,
    delta_rule_chunkwise,
    delta_rule_parallel,
    delta_rule_recurrent,
    delta_rule_states,
    linear_attention_chunkwise,
    linear_attention_parallel,
    linear_attention_recurrent,
    state_size,
)

F64, F32 = 1e-10, 1e-5  # relative to the output's scale (see the module docstring)


def inputs(T, *, B=2, H=2, d_k=4, d_v=3, dtype=torch.float64, seed=0, decay_floor=-0.2):
    """q, k (unit length, as DeltaNet makes them), v, beta in (0, 1), log_decay in
    (decay_floor, 0], and an initial state."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, T, d_k, generator=g, dtype=dtype)
    k = F.normalize(torch.randn(B, H, T, d_k, generator=g, dtype=dtype), dim=-1)
    v = torch.randn(B, H, T, d_v, generator=g, dtype=dtype)
    beta = torch.rand(B, H, T, generator=g, dtype=dtype)
    log_decay = decay_floor * torch.rand(B, H, T, generator=g, dtype=dtype)
    state = torch.randn(B, H, d_v, d_k, generator=g, dtype=dtype)
    return q, k, v, beta, log_decay, state


def assert_near(got, want, tol):
    scale = want.abs().max().item()
    error = (got.to(want.dtype) - want).abs().max().item()
    assert error <= tol * scale, f"max error {error:.3g} > {tol:g} x scale {scale:.3g}"


def run(rule, form, q, k, v, beta, log_decay, state=None, chunk=64):
    """(outputs, last state) by one form of one rule; the parallel form has no state (None)."""
    if rule == "additive":
        if form == "recurrent":
            return linear_attention_recurrent(q, k, v, log_decay, state)
        if form == "chunkwise":
            return linear_attention_chunkwise(q, k, v, log_decay, state, chunk=chunk)
        return linear_attention_parallel(q, k, v, log_decay), None
    if form == "recurrent":
        return delta_rule_recurrent(q, k, v, beta, log_decay, state)
    if form == "chunkwise":
        return delta_rule_chunkwise(q, k, v, beta, log_decay, state, chunk=chunk)
    return delta_rule_parallel(q, k, v, beta, log_decay), None


def single(*tensors):
    return [None if t is None else t.float() for t in tensors]


@pytest.mark.parametrize("rule", ["additive", "delta"])
@pytest.mark.parametrize("T", [1, 6, 130])
@pytest.mark.parametrize("decay", [False, True])
@pytest.mark.parametrize("start", [False, True])
def test_the_three_forms_agree_in_float64(rule, T, decay, start):
    q, k, v, beta, log_decay, state = inputs(T)
    log_decay, state = (log_decay if decay else None), (state if start else None)
    want, S = run(rule, "recurrent", q, k, v, beta, log_decay, state)
    for chunk in (1, 7, 64):  # 7 and 64 leave a short last chunk: 130 = 18 x 7 + 4 = 2 x 64 + 2
        got, S_chunks = run(rule, "chunkwise", q, k, v, beta, log_decay, state, chunk)
        assert_near(got, want, F64)
        assert_near(S_chunks, S, F64)
    if state is None:  # the parallel form starts from zeros
        assert_near(run(rule, "parallel", q, k, v, beta, log_decay)[0], want, F64)


def test_the_delta_rules_forms_agree_with_beta_up_to_two():
    # beta in (0, 2): I - beta k k^T has an eigenvalue 1 - beta in (-1, 1), which may be
    # negative (DeltaNet(negative_eigenvalues=True)); the triangular solve meets entries of A
    # up to 2 in size
    q, k, v, beta, log_decay, state = inputs(130)
    tensors = (q, k, v, 2 * beta, log_decay, state)
    want, S = run("delta", "recurrent", *tensors)
    for chunk in (7, 64):
        got, S_chunks = run("delta", "chunkwise", *tensors, chunk=chunk)
        assert_near(got, want, F64)
        assert_near(S_chunks, S, F64)
    want, _ = run("delta", "recurrent", *tensors[:5])
    assert_near(run("delta", "parallel", *tensors[:5])[0], want, F64)


@pytest.mark.parametrize("rule", ["additive", "delta"])
@pytest.mark.parametrize("decay", [False, True])
def test_the_forms_agree_over_4096_tokens_in_float64_and_float32(rule, decay):
    q, k, v, beta, log_decay, state = inputs(4096, B=1, H=1, d_k=16, d_v=16)
    tensors = (q, k, v, beta, log_decay if decay else None, state)
    want, S = run(rule, "recurrent", *tensors)
    got, S_chunks = run(rule, "chunkwise", *tensors, chunk=64)
    assert_near(got, want, F64)
    assert_near(S_chunks, S, F64)
    for form, chunk in (("recurrent", 0), ("chunkwise", 64), ("chunkwise", 100)):
        got, S_got = run(rule, form, *single(*tensors), chunk=chunk)  # 4,096 = 40 x 100 + 96
        assert_near(got, want, F32)
        assert_near(S_got, S, F32)


@pytest.mark.parametrize("rule", ["additive", "delta"])
def test_the_parallel_form_agrees_over_1024_tokens_in_float32(rule):
    q, k, v, beta, log_decay, _ = inputs(1024, B=1, H=1, d_k=16, d_v=16)
    for decay in (None, log_decay):
        want, _ = run(rule, "recurrent", q, k, v, beta, decay)
        assert_near(run(rule, "parallel", *single(q, k, v, beta, decay))[0], want, F32)


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["additive", "delta"])
def test_the_parallel_form_agrees_over_4096_tokens(rule):  # seconds: T x T = 16M entries
    q, k, v, beta, log_decay, _ = inputs(4096, B=1, H=1, d_k=16, d_v=16)
    for decay in (None, log_decay):
        want, _ = run(rule, "recurrent", q, k, v, beta, decay)
        assert_near(run(rule, "parallel", q, k, v, beta, decay)[0], want, F64)
        assert_near(run(rule, "parallel", *single(q, k, v, beta, decay))[0], want, F32)


@pytest.mark.parametrize("rule", ["additive", "delta"])
def test_strong_decays_neither_overflow_nor_lose_the_recent_past(rule):
    # alpha down to e^-40: a cumulative product over one 64-token chunk reaches e^-1280, which
    # is 0 even in float64, so 1 / gamma_i would be inf; ratios from sums of logs stay finite
    tensors = inputs(200, dtype=torch.float32, decay_floor=-40.0)
    reference = [t.double() for t in tensors]
    want, S = run(rule, "recurrent", *reference)
    got, S_chunks = run(rule, "chunkwise", *tensors, chunk=64)
    assert torch.isfinite(got).all()
    assert_near(got, want, F32)
    assert_near(S_chunks, S, F32)
    got = run(rule, "parallel", *tensors[:5])[0]
    assert torch.isfinite(got).all()
    assert_near(got, run(rule, "recurrent", *reference[:5])[0], F32)


def gradients(rule, form, tensors, weights):
    """d(sum(outputs * weights)) / d(each tensor) through one form (None where the outputs do
    not depend on it: beta under the additive rule)."""
    leaves = [t.clone().requires_grad_() for t in tensors]
    out, _ = run(rule, form, *leaves, chunk=5)
    (out * weights).sum().backward()
    return [t.grad for t in leaves]


@pytest.mark.parametrize("rule", ["additive", "delta"])
def test_gradients_through_the_three_forms_agree(rule):
    q, k, v, beta, log_decay, state = inputs(23)
    weights = torch.randn(2, 2, 23, 3, dtype=torch.float64)
    with_state = (q, k, v, beta, log_decay, state)  # recurrent against chunkwise, from a state
    from_zero = with_state[:5]  # recurrent against parallel, which starts from zeros
    for tensors, form in ((with_state, "chunkwise"), (from_zero, "parallel")):
        want = gradients(rule, "recurrent", tensors, weights)
        got = gradients(rule, form, tensors, weights)
        names = ["q", "k", "v", "beta", "log_decay", "state"][:len(tensors)]
        for name, g, w in zip(names, got, want, strict=True):
            if name == "beta" and rule == "additive":
                assert g is None and w is None
                continue
            assert torch.isfinite(g).all(), (form, name)
            assert_near(g, w, F64)


def test_the_delta_rule_states_are_the_recurrences_states():
    q, k, v, beta, log_decay, state = inputs(9)
    states = delta_rule_states(k, v, beta, log_decay, state)  # (B, H, T, d_v, d_k)
    assert states.shape == (2, 2, 9, 3, 4)
    out, S = delta_rule_recurrent(q, k, v, beta, log_decay, state)
    assert_near(states[:, :, -1], S, F64)
    assert_near(torch.einsum("bhtvk,bhtk->bhtv", states, q), out, F64)  # o_t = S_t q_t


def orthonormal_keys(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return basis[:, :n].T.contiguous()  # (n, d), rows orthonormal


@pytest.mark.parametrize("n", [1, 5, 8])
def test_the_delta_rule_recovers_orthogonal_keys_values_exactly(n):
    d, d_v = 8, 3
    keys = orthonormal_keys(n, d)
    values = torch.randn(n, d_v, dtype=torch.float64)
    k, v = keys[None, None], values[None, None]  # (1, 1, n, d) and (1, 1, n, d_v)
    beta = torch.ones(1, 1, n, dtype=torch.float64)
    start = torch.randn(1, 1, d_v, d, dtype=torch.float64)  # whatever was stored before
    for S in (delta_rule_recurrent(k, k, v, beta, state=start)[1],
              delta_rule_chunkwise(k, k, v, beta, state=start, chunk=3)[1]):
        read = (S[0, 0] @ keys.T).T  # (n, d_v): the state read with each key
        torch.testing.assert_close(read, values, rtol=0, atol=1e-12)


def test_two_tokens_by_hand_pin_where_the_decay_acts():
    """One dimension, two tokens, worked by hand: the decay alpha_t multiplies the state
    before token t writes (S_t = alpha_t S_{t-1} + ...). The three forms only agree with each
    other elsewhere; here a convention shared by all three (decaying after the write, say)
    would give other numbers: S_1 = alpha_1 v_1 k_1 = 1, not 2."""
    def seq(*values):
        return torch.tensor(values, dtype=torch.float64).view(1, 1, 2, -1)

    q, k, v = seq(3.0, 1.0), seq(1.0, 1.0), seq(2.0, 4.0)
    log_decay = torch.tensor([0.5, 0.25], dtype=torch.float64).log().view(1, 1, 2)
    beta = torch.tensor([0.5, 0.5], dtype=torch.float64).view(1, 1, 2)
    # additive: S_1 = 2, o_1 = 3 S_1 = 6; S_2 = 0.25 * 2 + 4 = 4.5, o_2 = 4.5
    additive = seq(6.0, 4.5)
    # delta rule: S_1 = 0.5 (2 - 0) = 1, o_1 = 3; S_2 = 0.25 + 0.5 (4 - 0.25) = 2.125 = o_2
    delta = seq(3.0, 2.125)
    for out in (linear_attention_recurrent(q, k, v, log_decay)[0],
                linear_attention_chunkwise(q, k, v, log_decay, chunk=1)[0],
                linear_attention_parallel(q, k, v, log_decay)):
        torch.testing.assert_close(out, additive, rtol=0, atol=1e-12)
    for out in (delta_rule_recurrent(q, k, v, beta, log_decay)[0],
                delta_rule_chunkwise(q, k, v, beta, log_decay, chunk=1)[0],
                delta_rule_parallel(q, k, v, beta, log_decay)):
        torch.testing.assert_close(out, delta, rtol=0, atol=1e-12)


def test_writing_a_key_twice_overwrites_under_the_delta_rule_and_adds_under_the_sum():
    key = F.normalize(torch.randn(4, dtype=torch.float64), dim=0)
    first, second = torch.randn(2, 3, dtype=torch.float64)
    k = key.expand(1, 1, 2, 4)
    v = torch.stack([first, second])[None, None]  # (1, 1, 2, 3)
    beta = torch.ones(1, 1, 2, dtype=torch.float64)
    delta = delta_rule_recurrent(k, k, v, beta)[0][0, 0, -1]  # read at the second write
    additive = linear_attention_recurrent(k, k, v)[0][0, 0, -1]
    torch.testing.assert_close(delta, second, rtol=0, atol=1e-12)
    torch.testing.assert_close(additive, first + second, rtol=0, atol=1e-12)


def test_the_additive_rules_recall_error_grows_with_the_number_of_keys_per_dimension():
    d, errors = 32, []
    g = torch.Generator().manual_seed(0)
    for n in (4, 16, 64, 256):  # n / d from 1/8 to 8
        k = F.normalize(torch.randn(8, 1, n, d, generator=g, dtype=torch.float64), dim=-1)
        v = torch.randn(8, 1, n, 4, generator=g, dtype=torch.float64)
        _, S = linear_attention_recurrent(k, k, v)
        read = k @ S.mT  # (8, 1, n, 4): every key read back from the final state
        errors.append((((read - v) ** 2).sum(-1) / (v ** 2).sum(-1)).mean().item())
    assert errors == sorted(errors), errors
    # crosstalk from n - 1 random unit keys: about (n - 1) / d of each value's energy
    for n, error in zip((4, 16, 64, 256), errors, strict=True):
        assert 0.5 * (n - 1) / d < error < 2 * (n - 1) / d, (n, error)


LAYERS = {
    "linear": lambda: LinearAttention(8, 2, chunk=5),
    "linear-decay": lambda: LinearAttention(8, 2, 3, decay=True, chunk=5),
    "linear-plain": lambda: LinearAttention(8, feature="identity", normalize=False, chunk=5),
    "delta": lambda: DeltaNet(8, 2, chunk=5),
    "gated-delta": lambda: DeltaNet(8, 2, 6, gated=True, negative_eigenvalues=True, chunk=5),
}


@pytest.mark.parametrize("name", LAYERS)
def test_a_layer_runs_the_same_by_chunks_by_loop_in_parallel_and_step_by_step(name):
    torch.manual_seed(0)
    layer = LAYERS[name]().double()
    x = torch.randn(2, 23, 8, dtype=torch.float64)
    out, S = layer(x)
    recurrent, S_recurrent = layer.forward_recurrent(x)
    assert_near(recurrent, out, F64)
    assert_near(S_recurrent, S, F64)
    assert_near(layer.forward_parallel(x), out, F64)
    _, start = layer(x[:, :9])  # an initial state: steps continue from it
    rest, S_rest = layer(x[:, 9:], start)
    assert_near(torch.cat([layer(x[:, :9])[0], rest], dim=1), out, F64)
    state, steps = start, []
    for t in range(9, 23):  # one token at a time, a state of constant size
        y, state = layer.step(x[:, t], state)
        assert state.shape == S.shape
        steps.append(y)
    assert_near(torch.stack(steps, dim=1), rest, F64)
    assert_near(state, S_rest, F64)


def test_the_short_convolution_is_causal_and_steps_like_its_forward():
    torch.manual_seed(0)
    conv = ShortConv(6).double()
    x = torch.randn(2, 11, 6, dtype=torch.float64)
    y, last = conv(x)
    assert last.shape == (2, 3, 6)
    torch.testing.assert_close(last, x[:, -3:])
    changed = x.clone()
    changed[:, 7:] += 1  # the future must not reach the past
    torch.testing.assert_close(conv(changed)[0][:, :7], y[:, :7], rtol=0, atol=0)
    _, start = conv(x[:, :4])
    state, steps = start, []
    for t in range(4, 11):
        out, state = conv.step(x[:, t], state)
        steps.append(out)
    torch.testing.assert_close(torch.stack(steps, dim=1), y[:, 4:], rtol=0, atol=1e-12)
    # channel c at t is sum_j w[c, j] x[t - 3 + j, c]: check one by hand
    assert torch.isclose(y[0, 5, 2], (conv.weight[2] * x[0, 2:6, 2]).sum())


def test_deltanet_keys_are_unit_and_beta_reaches_two_with_negative_eigenvalues():
    torch.manual_seed(0)
    layer = DeltaNet(8, 2, negative_eigenvalues=True, gated=True)
    with torch.no_grad():
        layer.beta_proj.bias.fill_(3.0)  # sigmoid(3) = 0.95: beta near 1.9
        q, k, v, beta, log_decay = layer._arguments(torch.randn(2, 7, 8))
    torch.testing.assert_close(k.norm(dim=-1), torch.ones(2, 2, 7))
    torch.testing.assert_close(q.norm(dim=-1), torch.ones(2, 2, 7))
    assert beta.min() > 1 and beta.max() < 2
    assert log_decay.shape == (2, 2, 7) and (log_decay < 0).all()
    states = layer.states(torch.randn(2, 7, 8))
    assert states.shape == (2, 2, 7, 4, 4)


def test_state_size_counts_the_numbers_carried_from_token_to_token():
    assert state_size(LinearAttention(8, 2)) == 2 * 4 * (4 + 1)  # z is one more row
    assert state_size(LinearAttention(8, 2, normalize=False, feature="identity")) == 2 * 4 * 4
    assert state_size(DeltaNet(16, 2, 4)) == 2 * 4 * 8
    assert state_size(nn.Sequential(ShortConv(16), DeltaNet(16, 2))) == 3 * 16 + 2 * 8 * 8
    with pytest.raises(ValueError, match="must contain a ShortConv, LinearAttention or DeltaNet"):
        state_size(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="module must be a torch.nn.Module, got int"):
        state_size(3)


def test_bad_configs_are_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads, got d_model=8 "
                                         "and n_heads=3"):
        LinearAttention(8, 3)
    with pytest.raises(ValueError, match=r"feature must be one of \['elu\+1', 'identity'\]"):
        LinearAttention(8, feature="relu")
    with pytest.raises(ValueError, match="normalize=True needs a positive feature map"):
        LinearAttention(8, feature="identity")
    with pytest.raises(TypeError, match="decay must be True or False, got 'yes'"):
        LinearAttention(8, decay="yes")
    with pytest.raises(ValueError, match="chunk must be an int >= 1, got 0"):
        DeltaNet(8, chunk=0)
    with pytest.raises(ValueError, match="d_key must be an int >= 1, got 0"):
        DeltaNet(8, d_key=0)
    with pytest.raises(TypeError, match="gated must be True or False"):
        DeltaNet(8, gated=1)
    with pytest.raises(ValueError, match="kernel_size must be an int >= 1, got 0"):
        ShortConv(4, kernel_size=0)


def test_bad_shapes_are_refused_with_what_was_expected():
    q, k, v, beta, log_decay, state = inputs(5, B=1)
    with pytest.raises(ValueError, match="q must have 4 dimensions, got shape"):
        linear_attention_parallel(q[0], k, v)
    with pytest.raises(ValueError, match=r"k must have q's shape \(B, H, T, d_k\) = "
                                         r"\(1, 2, 5, 4\), got \(1, 2, 5, 3\)"):
        linear_attention_recurrent(q, k[..., :3], v)
    with pytest.raises(ValueError, match=r"v must have shape \(B, H, T, d_v\) = \(1, 2, 5\)"):
        linear_attention_chunkwise(q, k, v[:, :, :4])
    with pytest.raises(TypeError, match="beta must be a tensor of shape"):
        delta_rule_recurrent(q, k, v, None)
    with pytest.raises(ValueError, match=r"beta must have shape \(B, H, T\) = \(1, 2, 5\), "
                                         r"got \(1, 2, 4\)"):
        delta_rule_chunkwise(q, k, v, beta[..., :4])
    with pytest.raises(ValueError, match=r"log_decay must be <= 0 everywhere"):
        delta_rule_parallel(q, k, v, beta, -log_decay + 0.1)
    with pytest.raises(ValueError, match=r"state must have shape \(B, H, d_v, d_k\) = "
                                         r"\(1, 2, 3, 4\), got \(1, 2, 4, 3\)"):
        delta_rule_recurrent(q, k, v, beta, state=state.mT)
    with pytest.raises(TypeError, match="v must have q's dtype torch.float64, got torch.float32"):
        linear_attention_recurrent(q, k, v.float())
    with pytest.raises(ValueError, match="chunk must be an int >= 1, got 0"):
        delta_rule_chunkwise(q, k, v, beta, chunk=0)
    with pytest.raises(ValueError, match="k must have 4 dimensions"):
        delta_rule_states(k[0], v, beta)
    with pytest.raises(ValueError, match=r"q must hold at least one token"):
        linear_attention_parallel(q[:, :, :0], k[:, :, :0], v[:, :, :0])
    layer = DeltaNet(8, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, 8\), got \(2, 3, 5\)"):
        layer(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="x must have 2 dimensions, got shape"):
        layer.step(torch.randn(2, 1, 8))
    with pytest.raises(ValueError, match=r"state must have shape \(B, kernel_size - 1, d\) = "
                                         r"\(2, 3, 4\), got \(2, 2, 4\)"):
        ShortConv(4)(torch.randn(2, 5, 4), torch.zeros(2, 2, 4))
