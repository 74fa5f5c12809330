"""The 2026 block (models/modern.py): RMSNorm against PyTorch's, rotary positions' relative
property, grouped-query attention against the book's multi-head attention, the key/value cache,
causality and equal-size construction."""

import pytest
import torch
from torch import nn

from rnn2transformer.models.attention import SelfAttention
from rnn2transformer.models.modern import (
    GroupedQueryAttention,
    ModernBlock,
    ModernConfig,
    ModernModel,
    RMSNorm,
    SwiGLU,
    cache_bytes_per_token,
    rotary_angles,
    rotate,
    with_parameters,
)
from rnn2transformer.models.shared import count_parameters
from rnn2transformer.models.transformer import TransformerConfig, TransformerModel


def test_rmsnorm_matches_torch():
    torch.manual_seed(0)
    ours, theirs = RMSNorm(12, eps=1e-6), nn.RMSNorm(12, eps=1e-6)
    with torch.no_grad():
        ours.weight.copy_(torch.randn(12))
        theirs.weight.copy_(ours.weight)
    x = torch.randn(3, 5, 12) * 4 + 1
    torch.testing.assert_close(ours(x), theirs(x))
    assert count_parameters(ours) == 12  # a gain, no bias


def test_swiglu_is_the_gated_product():
    torch.manual_seed(0)
    ffn = SwiGLU(8, 6)
    x = torch.randn(2, 3, 8)
    w1, w3 = ffn.linear1.weight.chunk(2)
    want = (nn.functional.silu(x @ w1.T) * (x @ w3.T)) @ ffn.linear2.weight.T
    torch.testing.assert_close(ffn(x), want)
    assert count_parameters(ffn) == 3 * 8 * 6


@pytest.mark.parametrize("shift", [1, 7, 300])
def test_rotary_dot_products_depend_only_on_the_distance(shift):
    torch.manual_seed(0)
    q, k = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)

    def at(x, m):  # x rotated to position m
        return rotate(x[None], rotary_angles(torch.tensor([m]), 16))[0]

    for m, n in [(0, 0), (5, 2), (3, 11), (40, 1)]:
        here = at(q, m) @ at(k, n)
        assert here.item() == pytest.approx((at(q, m + shift) @ at(k, n + shift)).item(),
                                            abs=1e-10)
        # the same as q at position 0 against k moved by n - m
        assert here.item() == pytest.approx((q @ at(k, n - m)).item(), abs=1e-10)
    assert at(q, 9).norm().item() == pytest.approx(q.norm().item())  # a rotation
    torch.testing.assert_close(at(q, 0), q)


def test_rotate_is_the_pairwise_rotation_of_the_shift_matrix():
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0]], dtype=torch.float64)
    angles = rotary_angles(torch.tensor([2]), 4, base=100.0)  # theta = 1, 1/10
    out = rotate(x, angles)[0]
    two, fifth = torch.tensor(2.0, dtype=torch.float64), torch.tensor(0.2, dtype=torch.float64)
    torch.testing.assert_close(out[:2], torch.stack([two.cos(), two.sin()]))  # (1, 0) by 2
    torch.testing.assert_close(out[2:], torch.stack([-fifth.sin(), fifth.cos()]))  # (0, 1) by 0.2
    half = rotate(x.bfloat16(), angles)  # complex numbers of bf16 do not exist: via float32
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.double(), rotate(x, angles), atol=1e-2, rtol=1e-2)
    with pytest.raises(ValueError, match="d_head must be even"):
        rotary_angles(torch.arange(3), 5)
    with pytest.raises(ValueError, match="angles must have shape"):
        rotate(torch.randn(3, 4), torch.zeros(2, 2))


def copy_from_self_attention(source: SelfAttention, target: GroupedQueryAttention) -> None:
    w_q, w_k, w_v = source.in_proj.weight.chunk(3)
    with torch.no_grad():
        target.q_proj.weight.copy_(w_q)
        target.kv_proj.weight.copy_(torch.cat([w_k, w_v]))
        target.out_proj.weight.copy_(source.out_proj.weight)


@pytest.mark.parametrize("causal", [True, False])
def test_grouped_query_attention_with_every_head_is_multi_head_attention(causal):
    torch.manual_seed(0)
    reference = SelfAttention(16, 4, bias=False)
    gqa = GroupedQueryAttention(16, 4, 4, rotary=False, causal=False)
    copy_from_self_attention(reference, gqa)
    x = torch.randn(2, 7, 16)
    want, want_weights = reference(x, need_weights=True, is_causal=causal)
    got, weights = gqa(x, need_weights=True, is_causal=causal)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(weights, want_weights)
    fused, _ = gqa(x, is_causal=causal)  # the fused kernel: the same numbers
    torch.testing.assert_close(fused, want, rtol=1e-5, atol=1e-6)


def test_query_head_h_reads_key_value_head_h_over_the_group_size():
    """Four query heads on two key/value heads: heads 0 and 1 read key/value head 0, heads 2
    and 3 read head 1. Multi-head attention whose heads 2g and 2g + 1 hold copies of the
    grouped model's head g computes the same outputs and weights; any other grouping would not
    (each key/value head has its own random weights)."""
    torch.manual_seed(0)
    gqa = GroupedQueryAttention(16, 4, 2, rotary=False, causal=False)
    reference = SelfAttention(16, 4, bias=False)
    d_head = 4
    w_k, w_v = gqa.kv_proj.weight.chunk(2)  # (2 heads x d_head, d_model) each
    spread = torch.cat([torch.arange(g * d_head, (g + 1) * d_head).repeat(2) for g in range(2)])
    with torch.no_grad():
        reference.in_proj.weight.copy_(torch.cat([gqa.q_proj.weight, w_k[spread], w_v[spread]]))
        reference.out_proj.weight.copy_(gqa.out_proj.weight)
    x = torch.randn(2, 6, 16)
    for causal in (True, False):
        want, want_weights = reference(x, need_weights=True, is_causal=causal)
        got, weights = gqa(x, need_weights=True, is_causal=causal)
        torch.testing.assert_close(got, want)
        torch.testing.assert_close(weights, want_weights)


def test_grouped_heads_share_keys_and_values_and_the_cache_shrinks():
    torch.manual_seed(0)
    gqa = GroupedQueryAttention(16, 4, 2)
    x = torch.randn(3, 5, 16)
    out, (k, v) = gqa(x)
    assert out.shape == (3, 5, 16) and k.shape == v.shape == (3, 2, 5, 4)
    _, weights = gqa(x, need_weights=True)
    assert weights.shape == (3, 4, 5, 5)
    assert torch.all(weights.triu(1) == 0)  # causal by default
    assert count_parameters(gqa) == 16 * 16 + 2 * 2 * 4 * 16 + 16 * 16  # no biases
    with pytest.raises(ValueError, match="n_heads by n_kv_heads"):
        GroupedQueryAttention(16, 4, 3)


def model(**changes):
    torch.manual_seed(0)
    return ModernModel(ModernConfig(**{"vocab_size": 11, "d_model": 16, "n_heads": 4,
                                       "n_kv_heads": 2, "n_layers": 2, "d_ff": 24,
                                       "output_size": 11, **changes}))


def test_the_model_is_causal_and_trains_with_the_package_loss():
    lm = model()
    x = torch.randint(0, 11, (2, 9))
    out, loss = lm(x, x.roll(-1, dims=1))
    assert out.shape == (2, 9, 11) and loss.ndim == 0
    changed = x.clone()
    changed[:, 6] = (changed[:, 6] + 1) % 11
    torch.testing.assert_close(lm(changed)[0][:, :6], out[:, :6])  # earlier outputs unchanged
    assert not torch.allclose(lm(changed)[0][:, 6:], out[:, 6:])
    loss.backward()
    assert all(p.grad is not None for p in lm.parameters())


def test_the_cache_gives_the_outputs_of_one_pass():
    lm = model().eval()
    x = torch.randint(0, 11, (2, 10))
    whole, _ = lm(x)
    first, cache = lm.forward_cached(x[:, :4])
    pieces = [first]
    for t in range(4, 10):  # one token at a time, as a decoder generates
        out, cache = lm.forward_cached(x[:, t : t + 1], cache)
        pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, rtol=1e-5, atol=1e-5)
    two, _ = lm.forward_cached(x[:, 4:6], lm.forward_cached(x[:, :4])[1])  # two new tokens
    torch.testing.assert_close(two, whole[:, 4:6], rtol=1e-5, atol=1e-5)
    assert cache[0][0].shape == (2, 2, 10, 4)
    # per token: 2 (k and v) x layers x key/value heads x head width x 4 bytes
    assert cache_bytes_per_token(cache) == 2 * 2 * 2 * 4 * 4


def test_cache_bytes_read_the_transformers_cache_too():
    torch.manual_seed(0)
    tf = TransformerModel(TransformerConfig(vocab_size=11, d_model=16, n_heads=4, n_layers=2,
                                            d_ff=32, causal=True, output_size=11,
                                            readout="all", loss="cross_entropy")).eval()
    _, cache = tf.forward_cached(torch.randint(0, 11, (3, 6)))
    assert cache_bytes_per_token(cache) == 2 * 2 * 16 * 4
    with pytest.raises(TypeError, match="pairs"):
        cache_bytes_per_token([torch.zeros(1)])


def test_a_block_follows_the_mixer_protocol():
    torch.manual_seed(0)
    block = ModernBlock(16, 4, 24, n_kv_heads=1)
    x = torch.randn(2, 5, 16)
    out, (k, v) = block(x)
    assert out.shape == x.shape and k.shape == (2, 1, 5, 4)
    _, weights = block(x, need_weights=True)
    assert weights.shape == (2, 4, 5, 5)


def test_with_parameters_matches_a_count_within_one_unit():
    torch.manual_seed(0)
    target = count_parameters(TransformerModel(TransformerConfig(
        vocab_size=65, d_model=64, n_heads=4, n_layers=2, d_ff=256, causal=True,
        output_size=65, readout="all", loss="cross_entropy")))
    config = with_parameters(ModernConfig(d_model=64, n_heads=4, n_kv_heads=2), target)
    got = count_parameters(ModernModel(config))
    assert abs(got - target) <= 3 * 64 * 2 / 2
    state = torch.random.get_rng_state()
    with_parameters(config, target)
    assert torch.equal(state, torch.random.get_rng_state())  # counting draws nothing


def test_config_refuses_what_cannot_be_built():
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        ModernConfig(n_heads=4, n_kv_heads=3)
    with pytest.raises(ValueError, match="even head width"):
        ModernConfig(d_model=12, n_heads=4, n_kv_heads=1)
    with pytest.raises(ValueError, match="rope_base"):
        ModernConfig(rope_base=1)
    with pytest.raises(TypeError, match="ModernConfig"):
        ModernModel({"d_model": 16})
