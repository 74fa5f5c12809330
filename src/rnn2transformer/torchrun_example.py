"""A chapter-sized data-parallel run: ``train`` under ``torchrun``, against one process.

``make torchrun`` runs ``torchrun --standalone --nproc_per_node=2 -m
rnn2transformer.torchrun_example`` on the CPU; the appendix "Training on more than one
machine" calls :func:`launch` to measure one process against two at build time.

Nothing here is special to distribution: :func:`main` is the code a reader would write for one
process, and ``torchrun`` alone makes it data-parallel.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ._checks import check_int
from .distributed import fingerprint, gather_to_main, world


def example_model_and_data(seed: int = 0):
    """Chapter 1's problem: three interleaved spirals and a three-layer perceptron."""
    from .models.mlp import MLP, MLPConfig
    from .synthetic import make_spirals

    torch.manual_seed(seed)
    x, y = make_spirals(512, n_classes=3, seed=seed)
    model = MLP(MLPConfig(input_size=2, hidden_size=64, n_layers=3, output_size=3))
    return model, (x, y)


def main(argv: list[str] | None = None) -> dict:
    """Train the example under whatever launched this process; rank 0 writes a JSON result
    (weights hash of every rank, final loss, seconds, weights) to ``--out``."""
    from .training import train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--checkpoint", type=Path, default=None)
    args = parser.parse_args(argv)

    model, data = example_model_and_data()
    started = time.perf_counter()
    history = train(model, data, epochs=args.epochs, batch_size=args.batch_size, lr=0.01,
                    device="cpu", checkpoint=args.checkpoint, progress=False)
    seconds = time.perf_counter() - started
    here = world()
    result = {
        "processes": here.size,
        "backend": dist.get_backend() if here.distributed else "none",
        "threads_per_process": torch.get_num_threads(),
        "epochs": args.epochs,
        "global_batch": args.batch_size,
        "steps": int(history.step.iloc[-1]),
        "final_train_loss": float(history.train_loss.iloc[-1]),
        "train_s": seconds,
        "weights_by_rank": gather_to_main(fingerprint(model)),
        "state": {k: v.tolist() for k, v in model.state_dict().items()},
    }
    if here.is_main:
        text = json.dumps(result)
        if args.out is not None:
            args.out.write_text(text)
        else:
            print({k: v for k, v in result.items() if k != "state"})
    if here.distributed:
        dist.destroy_process_group()
    return result


def launch(processes: int, *, epochs: int = 20, batch_size: int = 64) -> dict:
    """Run :func:`main` in fresh processes: plain Python when ``processes`` is 1, else
    ``torchrun --standalone --nproc_per_node=processes`` (gloo on the CPU). Returns rank 0's
    result plus ``wall_s``, the whole launch's seconds (start-up included)."""
    check_int("processes", processes, minimum=1)
    check_int("epochs", epochs, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        launcher = [sys.executable] if processes == 1 else [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={processes}"]
        # gloo binds to the loopback interface: in containers the host name may not resolve
        env = {"GLOO_SOCKET_IFNAME": "lo", **os.environ}
        started = time.perf_counter()
        done = subprocess.run(
            [*launcher, "-m", __name__, "--epochs", str(epochs), "--batch-size",
             str(batch_size), "--out", str(out)],
            capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"the {processes}-process run failed:\n{done.stderr[-3000:]}")
        result = json.loads(out.read_text())
    result["wall_s"] = wall
    result["state"] = {k: np.asarray(v) for k, v in result["state"].items()}
    return result


if __name__ == "__main__":
    main()
