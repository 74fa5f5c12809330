"""The CUDA paths, on a GPU: ``make gpu-test`` (or ``scripts/device_check.sh`` on a lent machine).

Skipped where there is no CUDA device, so they never pass by not running: the build machines
have none, and these are the checks a GPU session runs first. What each checks is a promise
the CPU tests cannot reach: the fused and device-side paths give the same numbers as the CPU
ones, and a training step does not wait for the GPU.
"""

import warnings

import pytest
import torch

from rnn2transformer import train
from rnn2transformer.corpus import char_lm_batches
from rnn2transformer.models.attention import MultiHeadAttention, causal_mask
from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel
from rnn2transformer.synthetic import (
    adding_batches,
    copy_memory_batches,
    multi_query_recall_batches,
    reversal_batches,
)
from rnn2transformer.training import make_optimizer, use_autocast
from tests.unit.parity import seeded_members

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CUDA = torch.device("cuda")


@pytest.fixture(autouse=True)
def _quiet_and_exact(monkeypatch):
    monkeypatch.setenv("RNN2T_BOOK_BUILD", "1")  # no progress bars
    monkeypatch.delenv("RNN2T_SCALE", raising=False)
    yield
    torch.set_default_dtype(torch.float32)
    torch.cuda.set_sync_debug_mode(0)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_training_on_cuda_equals_training_on_the_cpu_in_float64(kind):
    """cuDNN in float64 (TF32 does not touch it) against the CPU's kernels, with batches drawn
    on the CPU for both (an unmarked batch function gets a CPU generator on any device)."""
    torch.set_default_dtype(torch.float64)
    on_gpu, on_cpu = (seeded_members(1, kind=kind, hidden_size=6)[0] for _ in range(2))
    batches = adding_batches(7, batch_size=8)

    def drawn_on_the_cpu(generator):
        return batches(generator)

    settings = dict(steps=15, lr=1e-2, clip_grad_norm=1.0)
    train(on_gpu, drawn_on_the_cpu, device=CUDA, **settings)
    train(on_cpu, drawn_on_the_cpu, device="cpu", **settings)
    for p, q in zip(on_gpu.parameters(), on_cpu.parameters(), strict=True):
        torch.testing.assert_close(p.cpu(), q, rtol=1e-9, atol=1e-12)


def test_training_waits_for_the_gpu_only_at_evaluations():
    """Twice the steps with the same number of evaluations: no more synchronisations."""

    def synchronisations(steps: int) -> int:
        model = seeded_members(1, kind="lstm", hidden_size=16)[0]
        train(model, adding_batches(20, batch_size=32), steps=4, device=CUDA)  # warm-up
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            train(model, adding_batches(20, batch_size=32), steps=steps, eval_every=steps // 2,
                  clip_grad_norm=1.0, device=CUDA)
            torch.cuda.set_sync_debug_mode(0)
        return sum("synchroniz" in str(w.message) for w in caught)

    assert synchronisations(80) <= synchronisations(40)


def test_cuda_gets_fused_adam_device_batches_and_the_precision_policy():
    model = RecurrentModel(RecurrentConfig(hidden_size=8)).to(CUDA)
    assert make_optimizer("adam", model.parameters(), lr=1e-3, device=CUDA).defaults["fused"]
    for batches in (adding_batches(10, batch_size=4), copy_memory_batches(5, batch_size=4),
                    reversal_batches(6, 5, batch_size=4),
                    multi_query_recall_batches([2, 4], 40, batch_size=4),
                    char_lm_batches(torch.arange(50) % 7, length=8, batch_size=4)):
        assert getattr(batches, "draws_on_device", False)
        x, y = batches(torch.Generator(device=CUDA).manual_seed(0))
        assert x.is_cuda and y.is_cuda  # made where the generator lives: no host-side draw
    small = RecurrentModel(RecurrentConfig(hidden_size=8))
    large = RecurrentModel(RecurrentConfig(hidden_size=1024, input_size=1024))  # > 2 M
    assert not use_autocast(small, CUDA, "auto") and use_autocast(large, CUDA, "auto")


def test_fused_causal_attention_equals_the_teaching_path_on_cuda():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    attention = MultiHeadAttention(32, 4).to(CUDA)
    x = torch.randn(3, 50, 32, device=CUDA)
    fast, _ = attention(x, need_weights=False, is_causal=True)  # the flash kernel's path
    slow, _ = attention(x, mask=causal_mask(50, device=CUDA))  # the weights, written out
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-5)
