"""One rank of the two-process tests in test_distributed.py (started by torchrun).

Trains the same small problem as a single process would and saves this rank's weights and
history to ``<out>/rank<r>.pt``. ``--interrupt-at`` makes every rank fail at that draw of its
batch function, as a run killed part-way; ``--batch-size`` lets a test pass a bad global batch.
"""

import argparse
from pathlib import Path

import torch
import torch.distributed as dist

from rnn2transformer import train
from rnn2transformer.distributed import rank_seed
from rnn2transformer.models.mlp import MLP, MLPConfig
from rnn2transformer.synthetic import make_spirals

parser = argparse.ArgumentParser()
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--source", choices=["tensors", "function", "both_streams"],
                    default="tensors")
parser.add_argument("--batch-size", type=int, default=40)
parser.add_argument("--steps", type=int, default=None)
parser.add_argument("--epochs", type=int, default=None)
parser.add_argument("--checkpoint", type=Path, default=None)
parser.add_argument("--interrupt-at", type=int, default=None)
args = parser.parse_args()


def model_and_data():
    torch.manual_seed(0)
    x, y = make_spirals(100, n_classes=3, seed=1)  # 300 examples: the last batch is shorter
    return MLP(MLPConfig(hidden_size=16, n_layers=2, output_size=3)).double(), (x.double(), y)


model, (x, y) = model_and_data()
calls = {"n": 0}


def draw(generator):
    calls["n"] += 1
    if args.interrupt_at is not None and calls["n"] == args.interrupt_at:
        raise KeyboardInterrupt("simulated interruption")
    index = torch.randint(0, len(x), (16,), generator=generator)
    return x[index], y[index]


def both_streams(generator):
    """In one process, what two ranks draw together: rank 0's stream, then rank 1's."""
    if "other" not in calls:
        calls["other"] = torch.Generator().manual_seed(rank_seed(3, 1))
    x0, y0 = draw(generator)
    x1, y1 = draw(calls["other"])
    return torch.cat([x0, x1]), torch.cat([y0, y1])


def stop(step, model):
    if args.source == "tensors" and step == args.interrupt_at:
        raise KeyboardInterrupt("simulated interruption")


data = {"tensors": (x, y), "function": draw, "both_streams": both_streams}[args.source]
history = train(model, data, steps=args.steps, epochs=args.epochs, batch_size=args.batch_size,
                lr=0.02, eval_every=5, checkpoint_every=3 if args.checkpoint else None,
                checkpoint=args.checkpoint, callback=stop, seed=3, device="cpu")
rank = dist.get_rank() if dist.is_initialized() else 0
args.out.mkdir(parents=True, exist_ok=True)
torch.save({"state": model.state_dict(), "history": history.to_dict("list")},
           args.out / f"rank{rank}.pt")
