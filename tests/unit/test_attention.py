"""Attention of chapter 6 against PyTorch's references, masks, and the reversal task."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnn2transformer import train
from rnn2transformer.models.attention import (
    AlignConfig,
    AlignmentModel,
    AttentionLM,
    AttentionLMConfig,
    MultiHeadAttention,
    attention,
    causal_mask,
    copy_attention_weights,
    padding_mask,
)
from rnn2transformer.profiling import time_call
from rnn2transformer.synthetic import reversal_batches, reversal_task


def qkv(*shape, seed=0, grad=True):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g).requires_grad_(grad) for _ in range(3)]


@pytest.mark.parametrize("use_mask", [None, "causal", "padding"])
def test_attention_matches_scaled_dot_product_attention(use_mask):
    q, k, v = qkv(2, 3, 6, 8)
    mask = {None: None, "causal": causal_mask(6),
            "padding": padding_mask(torch.tensor([6, 4]), 6)}[use_mask]
    out, weights = attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 6))
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    ref_grads = torch.autograd.grad(ref.square().sum(), (q, k, v))
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b)


def test_multi_head_attention_matches_torch_with_copied_weights():
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(16, 4, batch_first=True)
    ours = MultiHeadAttention(16, 4)
    copy_attention_weights(reference, ours)
    x = torch.randn(3, 7, 16)
    x_ref, x_ours = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    mask = causal_mask(7)
    ref_out, ref_w = reference(x_ref, x_ref, x_ref, attn_mask=~mask, average_attn_weights=False)
    out, w = ours(x_ours, mask=mask)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(w, ref_w)
    ref_out.square().sum().backward()
    out.square().sum().backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad)
    torch.testing.assert_close(ours.in_proj.weight.grad, reference.in_proj_weight.grad)
    torch.testing.assert_close(ours.out_proj.weight.grad, reference.out_proj.weight.grad)


def test_cross_attention_and_the_fused_path_agree():
    torch.manual_seed(0)
    layer = MultiHeadAttention(8, 2)
    query, memory = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    scratch, w = layer(query, memory, memory)
    fused, none = layer(query, memory, memory, need_weights=False)
    assert w.shape == (2, 2, 3, 5) and none is None
    torch.testing.assert_close(scratch, fused)
    copy_attention_weights(layer, nn.MultiheadAttention(8, 2, batch_first=True))
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 4)


def test_no_information_reaches_the_output_from_padded_positions():
    q, k, v = qkv(2, 1, 5, 4, seed=1)
    mask = padding_mask(torch.tensor([5, 3]), 5)
    out, weights = attention(q, k, v, mask)
    assert (weights[1, :, :, 3:] == 0).all()
    grad_k, grad_v = torch.autograd.grad(out[1].sum(), (k, v))
    assert (grad_k[1, :, 3:] == 0).all() and (grad_v[1, :, 3:] == 0).all()
    assert grad_v[1, :, :3].abs().sum() > 0


def test_causal_mask_hides_the_future_in_the_language_model():
    torch.manual_seed(0)
    lm = AttentionLM(AttentionLMConfig(vocab_size=11, max_len=8, d_model=16, n_heads=2))
    ids = torch.randint(0, 11, (1, 8))
    embedded = lm.token(ids).detach().requires_grad_(True)
    # run the model from embeddings so the gradient w.r.t. every input position is visible
    h = embedded + lm.position(torch.arange(8))
    read, _ = lm.attn(h, mask=causal_mask(8))
    logits = lm.head(h + read)
    (grad,) = torch.autograd.grad(logits[0, 3].sum(), embedded)
    assert (grad[0, 4:] == 0).all()
    assert (grad[0, :4].abs().sum(-1) > 0).all()
    logits_full, _ = lm(ids)
    torch.testing.assert_close(logits_full[0, 3], logits[0, 3])


def test_masks_validate():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False],
                                       [True, True, True]]
    assert padding_mask(torch.tensor([2]), 3).flatten().tolist() == [True, True, False]
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 3\]"):
        padding_mask(torch.tensor([4]), 3)


def test_attention_rejects_mismatched_shapes():
    q, k, v = qkv(2, 5, 4, grad=False)
    with pytest.raises(ValueError, match="must agree"):
        attention(q, k[:, :3], v)


@pytest.mark.slow
def test_reversal_task_and_a_model_that_learns_its_alignment():
    x, y = reversal_task(4, 6, 9, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 6) and torch.equal(y, x.flip(1))
    assert x.max() < 9
    torch.manual_seed(0)
    model = AlignmentModel(AlignConfig(vocab_size=8, max_len=6, d_model=32))
    val = reversal_task(200, 6, 8, generator=torch.Generator().manual_seed(1))
    history = train(model, reversal_batches(6, 8), val_data=val, steps=300, lr=3e-3)
    assert history.val_loss.iloc[-1] < 0.05
    _, weights = model.attend(val[0][:1])
    assert weights[0, 0].argmax(-1).tolist() == [5, 4, 3, 2, 1, 0]


def test_time_call_reports_ordered_times():
    r = time_call(lambda: torch.randn(50, 50) @ torch.randn(50, 50),
                  device=torch.device("cpu"), repeats=3)
    assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"]


@pytest.mark.parametrize("need_weights", [True, False])
def test_is_causal_equals_an_explicit_causal_mask(need_weights):
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4)
    x = torch.randn(3, 7, 16)
    by_flag, _ = mha(x, is_causal=True, need_weights=need_weights)
    by_mask, _ = mha(x, mask=causal_mask(7), need_weights=need_weights)
    torch.testing.assert_close(by_flag, by_mask, rtol=1e-5, atol=1e-6)
    # a padding mask and is_causal together hide both
    keep = padding_mask(torch.tensor([7, 4, 2]), 7)
    both, _ = mha(x, mask=keep, is_causal=True, need_weights=need_weights)
    expected, _ = mha(x, mask=keep & causal_mask(7), need_weights=True)
    torch.testing.assert_close(both, expected, rtol=1e-5, atol=1e-6)


def test_one_qkv_product_equals_three_projections():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 2)
    x = torch.randn(2, 5, 16)
    fused = mha.project(x, x, x)  # self-attention: one matrix product, split
    separate = mha.project(x, x.clone(), x.clone())  # three products with the chunked weight
    for a, b in zip(fused, separate, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_is_causal_needs_square_attention():
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="as many queries as keys"):
        mha(torch.randn(1, 3, 8), torch.randn(1, 5, 8), is_causal=True)




def test_a_sliding_window_keeps_the_last_w_positions():
    full, local = causal_mask(9), causal_mask(9, window=3)
    assert torch.equal(causal_mask(9, window=9), full)  # a window as long as the text: causal
    assert local.sum(-1).tolist() == [1, 2, 3, 3, 3, 3, 3, 3, 3]  # min(i + 1, W) keys each
    i, j = torch.meshgrid(torch.arange(9), torch.arange(9), indexing="ij")
    assert torch.equal(local, (j <= i) & (j > i - 3))
    with pytest.raises(ValueError, match="window"):
        causal_mask(9, window=0)


def test_copied_weights_refuse_a_bias_on_one_side_or_another_shape():
    # The one copy (models.shared.copy_parameters) that every parity test's weights go through.
    with pytest.raises(ValueError, match="in_b: one module has biases"):
        copy_attention_weights(MultiHeadAttention(8, 2), nn.MultiheadAttention(8, 2, bias=False))
    with pytest.raises(ValueError, match=r"in_w: shapes differ, \(24, 8\) vs \(48, 16\)"):
        copy_attention_weights(MultiHeadAttention(8, 2), nn.MultiheadAttention(16, 2))
