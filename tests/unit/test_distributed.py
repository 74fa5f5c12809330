"""train() under torchrun: two CPU processes (gloo) against one process.

Each test launches real processes with ``python -m torch.distributed.run`` (torchrun), so it
checks what a reader's ``torchrun --nproc_per_node=2`` would do, set-up included.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnn2transformer import distributed, train
from rnn2transformer.distributed import check_split, rank_seed, share_of_batch

WORKER = Path(__file__).with_name("distributed_worker.py")


def launch(tmp_path, name, *args, nproc=2, check=True):
    """Run the worker on ``nproc`` ranks (or as one plain process when nproc is 0)."""
    out = tmp_path / name
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}"] if nproc else [sys.executable]
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*command, str(WORKER), "--out", str(out), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=240)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
        ranks = max(nproc, 1)
        return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(ranks)]
    return done


def assert_same_weights(a, b, atol):
    for (name, x), y in zip(a["state"].items(), b["state"].values(), strict=True):
        assert torch.allclose(x, y, rtol=0, atol=atol), (name, (x - y).abs().max())


@pytest.mark.slow
def test_two_ranks_equal_one_process_at_the_same_global_batch(tmp_path):
    # 300 examples in global batches of 40: the last batch of each epoch (20) is shared too.
    single, = launch(tmp_path, "one", "--epochs", 3, nproc=0)
    rank0, rank1 = launch(tmp_path, "two", "--epochs", 3)
    assert_same_weights(rank0, rank1, atol=0)  # replicas stay identical, bit for bit
    assert_same_weights(rank0, single, atol=1e-6)
    assert rank0["history"]["step"] == single["history"]["step"]
    assert rank0["history"] == rank1["history"]  # every rank returns rank 0's history
    for a, b in zip(rank0["history"]["train_loss"], single["history"]["train_loss"],
                    strict=True):
        assert a == pytest.approx(b, rel=1e-6)  # summed in float32


@pytest.mark.slow
def test_batch_functions_draw_a_different_stream_on_each_rank(tmp_path):
    rank0, rank1 = launch(tmp_path, "fn", "--source", "function", "--steps", 12)
    assert_same_weights(rank0, rank1, atol=0)
    # the same as one process whose batches join rank 0's draw (the seed's own stream) and
    # rank 1's (the stream rank_seed derives): each rank drew its own examples
    joined, = launch(tmp_path, "joined", "--source", "both_streams", "--steps", 12, nproc=0)
    assert_same_weights(rank0, joined, atol=1e-6)
    alone, = launch(tmp_path, "alone", "--source", "function", "--steps", 12, nproc=0)
    with pytest.raises(AssertionError):
        assert_same_weights(rank0, alone, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["tensors", "function"])
def test_interrupted_two_rank_run_resumes_to_the_uninterrupted_weights(tmp_path, source):
    common = ("--source", source, "--steps", 20)
    reference, _ = launch(tmp_path, "ref", *common)
    checkpoint = tmp_path / "run.pt"
    failed = launch(tmp_path, "cut", *common, "--checkpoint", checkpoint, "--interrupt-at", 10,
                    check=False)
    assert failed.returncode != 0 and "simulated interruption" in failed.stderr
    assert checkpoint.exists()
    saved = torch.load(checkpoint, weights_only=False)
    assert 0 < saved["step"] < 20 and len(saved["ranks"]) == 2
    resumed, resumed1 = launch(tmp_path, "resumed", *common, "--checkpoint", checkpoint)
    assert_same_weights(resumed, reference, atol=0)
    assert_same_weights(resumed1, reference, atol=0)
    assert resumed["history"]["train_loss"] == reference["history"]["train_loss"]


@pytest.mark.slow
def test_a_global_batch_the_ranks_cannot_share_is_refused(tmp_path):
    done = launch(tmp_path, "bad", "--epochs", 1, "--batch-size", 41, check=False)
    assert done.returncode != 0
    assert "must be divisible by the world size: got batch_size=41 for 2 processes" in done.stderr


def test_share_of_batch_splits_into_near_equal_contiguous_parts():
    parts = [share_of_batch(10, 3, r) for r in range(3)]
    assert [(p.start, p.stop) for p in parts] == [(0, 4), (4, 7), (7, 10)]
    with pytest.raises(ValueError, match="divisible by the world size"):
        check_split(10, None, 3)
    with pytest.raises(ValueError, match="last batch of each epoch has 3 examples"):
        check_split(10, 33, 2)
    check_split(10, 32, 2)


def test_rank_zero_keeps_the_seed_and_other_ranks_get_distinct_streams():
    assert rank_seed(7, 0) == 7
    seeds = {rank_seed(s, r) for s in range(20) for r in range(1, 5)}
    assert len(seeds) == 80 and seeds.isdisjoint(range(20))


def test_a_batch_function_without_a_generator_argument_is_refused():
    with pytest.raises(TypeError, match="must take one argument, the torch.Generator"):
        train(torch.nn.Linear(2, 1), lambda: (torch.zeros(2), torch.zeros(2)), steps=1)


def test_a_single_process_takes_no_distributed_path(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR"):
        monkeypatch.delenv(name, raising=False)
    assert not distributed.launched_by_torchrun()
    assert distributed.setup() == distributed.World(0, 1, 0)  # joins no process group
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not distributed.launched_by_torchrun()  # torchrun also names the rendezvous
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    assert distributed.launched_by_torchrun()
