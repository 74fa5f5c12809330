"""The Transformer of chapter 7: positions, the block against PyTorch, order and causality."""

import pytest
import torch
from torch import nn

from rnn2transformer.models.transformer import (
    TransformerBlock,
    TransformerConfig,
    TransformerModel,
    copy_block_weights,
    position_shift_matrix,
    sinusoidal_positions,
)
from rnn2transformer.synthetic import parity, parity_batches


def test_sinusoidal_positions_follow_the_paper():
    pe = sinusoidal_positions(50, 16, dtype=torch.float64)
    pos, i = 7, 3
    angle = torch.tensor(pos / 10000 ** (2 * i / 16), dtype=torch.float64)
    assert pe[pos, 2 * i].item() == pytest.approx(torch.sin(angle).item())
    assert pe[pos, 2 * i + 1].item() == pytest.approx(torch.cos(angle).item())
    with pytest.raises(ValueError, match="d_model must be even"):
        sinusoidal_positions(5, 7)


@pytest.mark.parametrize("k", [1, 5, 37])
def test_a_shift_of_k_positions_is_a_fixed_linear_map(k):
    pe = sinusoidal_positions(200, 64, dtype=torch.float64)
    m = position_shift_matrix(k, 64)
    shifted = pe[:-k] @ m.T  # M_k PE(pos) for every pos
    assert (shifted - pe[k:]).abs().max().item() < 1e-9
    torch.testing.assert_close(m @ m.T, torch.eye(64, dtype=torch.float64))  # a rotation


def test_self_attention_without_positions_is_permutation_equivariant():
    torch.manual_seed(0)
    model = TransformerModel(TransformerConfig(input_size=3, d_model=16, n_heads=2, n_layers=2,
                                               d_ff=32, positions="none"))
    x = torch.randn(2, 9, 3)
    perm = torch.randperm(9)
    h, _ = model.encode(x)
    h_perm, _ = model.encode(x[:, perm])
    torch.testing.assert_close(h_perm, h[:, perm], rtol=1e-5, atol=1e-5)
    with_positions = TransformerModel(TransformerConfig(input_size=3, d_model=16, n_heads=2,
                                                        n_layers=2, d_ff=32))
    h, _ = with_positions.encode(x)
    h_perm, _ = with_positions.encode(x[:, perm])
    assert not torch.allclose(h_perm, h[:, perm], atol=1e-3)


@pytest.mark.parametrize("norm_first", [True, False])
def test_block_matches_torch_encoder_layer(norm_first):
    torch.manual_seed(0)
    reference = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0,
                                           batch_first=True, norm_first=norm_first)
    block = TransformerBlock(16, 4, 32, norm_first=norm_first)
    copy_block_weights(reference, block)
    x = torch.randn(2, 6, 16)
    x_ref, x_ours = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    mask = torch.ones(6, 6, dtype=torch.bool).tril()
    ref = reference(x_ref, src_mask=~mask)
    ours, _ = block(x_ours, mask=mask)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    ref.square().sum().backward()
    ours.square().sum().backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(block.linear1.weight.grad, reference.linear1.weight.grad,
                               rtol=1e-4, atol=1e-5)


def test_causal_language_model_does_not_see_the_future():
    torch.manual_seed(0)
    model = TransformerModel(TransformerConfig(vocab_size=13, d_model=16, n_heads=2, n_layers=2,
                                               d_ff=32, causal=True, output_size=13,
                                               readout="all", loss="cross_entropy"))
    ids = torch.randint(0, 13, (1, 10))
    embedded = model.embed(ids).detach().requires_grad_(True)
    # feed the embeddings we differentiate against through the model's own embedding layer
    hook = model.embed.register_forward_hook(lambda module, args, out: embedded)
    logits, _ = model(ids)
    hook.remove()
    (grad,) = torch.autograd.grad(logits[0, 4].sum(), embedded)
    assert (grad[0, 5:] == 0).all()
    assert (grad[0, :5].abs().sum(-1) > 0).all()


def test_model_shapes_and_validation():
    regressor = TransformerModel(TransformerConfig(input_size=2, d_model=8, n_heads=2, d_ff=16))
    out, loss = regressor(torch.randn(3, 5, 2), torch.randn(3))
    assert out.shape == (3,) and loss.ndim == 0
    lm = TransformerModel(TransformerConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=16,
                                            positions="learned", max_len=6, causal=True,
                                            output_size=7, readout="all", loss="cross_entropy"))
    out, _ = lm(torch.randint(0, 7, (2, 6)))
    assert out.shape == (2, 6, 7)
    with pytest.raises(ValueError, match="max_len=6, got T=9"):
        lm(torch.randint(0, 7, (2, 9)))
    with pytest.raises(ValueError, match="divisible"):
        TransformerConfig(d_model=10, n_heads=4)


def test_parity_labels():
    x, y = parity(100, 13, generator=torch.Generator().manual_seed(0))
    assert x.shape == (100, 13, 1) and y.shape == (100,)
    assert torch.equal(y, x.squeeze(-1).long().sum(1) % 2)
    lengths = {parity_batches(3, 5, batch_size=2)(torch.Generator().manual_seed(s))[0].shape[1]
               for s in range(30)}
    assert lengths == {3, 4, 5}


def test_sinusoidal_table_is_cached_moves_with_the_model_and_grows():
    model = TransformerModel(TransformerConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=16,
                                               max_len=16, causal=True, output_size=7,
                                               readout="all", loss="cross_entropy"))
    table = model.sinusoidal_table
    assert table.shape == (16, 8) and "sinusoidal_table" not in model.state_dict()
    torch.testing.assert_close(model.positions_for(3, 5, torch.zeros(1)),
                               sinusoidal_positions(8, 8)[3:])
    assert model.positions_for(0, 4, torch.zeros(1)).data_ptr() == table.data_ptr()  # no copy
    longer = model.positions_for(30, 4, torch.zeros(1))  # beyond max_len: sinusoids go on
    torch.testing.assert_close(longer, sinusoidal_positions(34, 8)[30:])
    assert model.sinusoidal_table.shape[0] >= 34
    assert model.to(torch.float64).positions_for(0, 2, torch.zeros(1)).dtype == torch.float32


def test_causal_model_uses_is_causal_and_agrees_with_its_cache(monkeypatch):
    calls, kernel = [], torch.nn.functional.scaled_dot_product_attention

    def recording(q, k, v, attn_mask=None, is_causal=False, **options):
        calls.append("mask" if attn_mask is not None else "is_causal" if is_causal
                      else "neither")
        return kernel(q, k, v, attn_mask=attn_mask, is_causal=is_causal, **options)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", recording)
    torch.manual_seed(0)
    model = TransformerModel(TransformerConfig(vocab_size=11, d_model=16, n_heads=2, n_layers=2,
                                               d_ff=32, causal=True, output_size=11,
                                               readout="all", loss="cross_entropy")).eval()
    ids = torch.randint(0, 11, (2, 9))
    full, _ = model(ids)
    first, cache = model.forward_cached(ids[:, :5])  # no cache yet: the is_causal branch
    second, cache = model.forward_cached(ids[:, 5:7], cache)  # an explicit offset mask
    third, _ = model.forward_cached(ids[:, 7:8], cache)  # one token: no mask
    pieces = torch.cat([first, second, third], dim=1)
    torch.testing.assert_close(pieces, full[:, :8], rtol=1e-5, atol=1e-5)
    # two layers each: the full pass and the first piece build no mask, the kernel does
    assert calls == ["is_causal"] * 4 + ["mask"] * 2 + ["neither"] * 2


@pytest.mark.parametrize("k", [1.5, "2"])
def test_shift_matrix_validates_k(k):
    with pytest.raises(TypeError, match="k must be an int"):
        position_shift_matrix(k, 8)


def test_shift_matrix_needs_an_even_width():
    with pytest.raises(ValueError, match="even"):
        position_shift_matrix(1, 7)


def test_ablated_blocks_drop_exactly_the_part_they_name():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 16)
    full = TransformerBlock(16, 4, 32)
    no_residual = TransformerBlock(16, 4, 32, residual=False)
    no_norm = TransformerBlock(16, 4, 32, layer_norm=False)
    for block in (no_residual, no_norm):
        block.load_state_dict(full.state_dict(), strict=False)  # the same weights
    with torch.no_grad():
        read, _ = full.self_attn(full.norm1(x))
        expected = full.feed_forward(full.norm2(read))  # pre-norm sublayers, no identity path
        assert torch.allclose(no_residual(x)[0], expected, atol=1e-6)
        h = x + no_norm.self_attn(x)[0]
        assert torch.allclose(no_norm(x)[0], h + no_norm.feed_forward(h), atol=1e-6)
    assert not any(isinstance(m, nn.LayerNorm) for m in no_norm.modules())
    model = TransformerModel(TransformerConfig(d_model=16, n_heads=4, layer_norm=False))
    assert not any(isinstance(m, nn.LayerNorm) for m in model.modules())


@pytest.mark.parametrize("options", [dict(norm_first=False), dict(residual=False),
                                     dict(layer_norm=False)])
def test_every_block_variant_streams_like_its_full_pass(options):
    torch.manual_seed(0)
    model = TransformerModel(TransformerConfig(
        vocab_size=7, d_model=16, n_heads=2, n_layers=2, d_ff=32, causal=True, readout="all",
        output_size=7, loss="cross_entropy", **options)).eval()
    x = torch.randint(0, 7, (2, 9))
    with torch.no_grad():
        full, _ = model(x)
        first, cache = model.forward_cached(x[:, :4])
        rest, _ = model.forward_cached(x[:, 4:], cache)
    assert torch.allclose(torch.cat([first, rest], dim=1), full, atol=1e-5)
