"""What a state can remember and track (chapters 7 and 11): recall of many key-value pairs
(MQAR) and parity, for models that differ only in how they carry the past.

Chapter 11's models are :class:`~rnn2transformer.models.hybrid.HybridModel` stacks of two
layers (one for parity) built by :func:`recall_models` / :func:`parity_models` at one width and
one parameter count (:func:`~rnn2transformer.models.pairs.equal_size`), so a difference in
recall is a difference of mixer: softmax attention, an LSTM, minGRU (a vector state), linear
attention and DeltaNet (a matrix state), and a hybrid (a recurrent layer, then attention);
:func:`split_state_models` is DeltaNet with a smaller state at the same parameters. Chapter
7's counterpoint is :func:`parity_pair_models`: the LSTM and the Transformer of that chapter.
Each family trains at its own learning rate from a recorded sweep
(:mod:`rnn2transformer.sweeps`; rerun with ``python -m rnn2transformer.memory sweep recall
--grid ...``, or ``recall_heads``, ``parity`` or ``parity_pair``).

MQAR is trained on a mixture of pair counts (each batch draws one, as Zoology does) and scored
at each; a model that keeps only the last pair scores :func:`~rnn2transformer.synthetic.
last_pair_accuracy`, and a model on that line has not learned to store more. Parity is
trained with a label at every position on strings of 1 to ``lengths[0]`` bits of its
:class:`Parity` task and read at the last bit of those and of longer strings.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

import torch
from torch import nn

from . import sweeps
from ._checks import check_choice
from .models.hybrid import HybridConfig, HybridModel
from .models.pairs import equal_size
from .models.recurrent import RecurrentConfig, RecurrentModel
from .models.shared import count_parameters
from .models.transformer import TransformerConfig, TransformerModel
from .settings import scale
from .synthetic import (
    multi_query_recall,
    multi_query_recall_batches,
    recall_accuracy,
    running_parity,
    running_parity_batches,
)
from .training import train

# the families of the recall race: each one's layers, two blocks
RECALL_FAMILIES = {
    "attention": ["attention", "attention"],
    "LSTM": ["lstm", "lstm"],
    "minGRU": ["mingru", "mingru"],
    "linear attention": ["linear_attention", "linear_attention"],
    "DeltaNet": ["deltanet", "deltanet"],
    "hybrid": ["deltanet", "attention"],  # a recurrent layer, then attention
}
# the smaller state of chapter 11's state-size test: DeltaNet's width split into this many heads
STATE_HEADS = 4
SPLIT_STATE = f"DeltaNet, {STATE_HEADS} heads"  # its name in tables and sweeps
# state tracking: one layer each
PARITY_FAMILIES = {
    "LSTM": ["lstm"],
    "minGRU, a in (0, 1)": ["mingru"],
    "minGRU, a in (-1, 1)": ["mingru_signed"],
    "DeltaNet, beta in (0, 1)": ["deltanet"],
    "DeltaNet, beta in (0, 2)": ["deltanet_signed"],
}

@dataclass(frozen=True)
class Recall:
    """The recall task and budget: ``vocab_size`` ids (half keys, half values), a training
    mixture of ``pairs``, models of width ``width``."""

    width: int = 32
    vocab_size: int = 128
    pairs: list[int] = field(default_factory=lambda: [2, 4, 8, 16])
    steps: int = 600
    batch_size: int = 32


@dataclass(frozen=True)
class Parity:
    """The parity task and budget: models of width ``width``, trained on strings of 1 to
    ``lengths[0]`` bits and read at the last bit of strings of each of ``lengths``."""

    width: int = 16
    steps: int = 600
    batch_size: int = 32
    lengths: list[int] = field(default_factory=lambda: [20, 40, 100])


def recall_task() -> Recall:
    return Recall(steps=scale(600, full=4000), pairs=scale.sweep([2, 4, 8, 16]))


def parity_task() -> Parity:
    return Parity(steps=scale(600, full=3000))


def parity_pair_task() -> Parity:
    """Chapter 7's counterpoint: trained on strings of up to 10 bits, a length at which its
    Transformer fitted parity within a laptop's budget (on up to 20 bits it was right on about
    55% of 20-bit strings after the 1,000 steps the chapter once gave it, 81.7% after 5,000 and
    98.9% after 10,000, the last two on one seed), read at 10, 20 and 100 bits."""
    return Parity(width=32, steps=scale(3000, full=10000), batch_size=64, lengths=[10, 20, 100])


def recall_models(task: Recall, families: dict[str, list[str]] | None = None, *,
                  n_heads: int = 1) -> dict[str, nn.Module]:
    """The recall race's models at one parameter count (the attention stack's), built in
    order from the current random state. ``n_heads`` splits the width into heads: the
    projections keep their size, and a matrix state of H heads holds H (d / H)^2 = d^2 / H
    numbers per layer, so more heads is a smaller state at the same parameters."""
    families = RECALL_FAMILIES if families is None else families
    base = dict(vocab_size=task.vocab_size, d_model=task.width, d_ff=4 * task.width,
                output_size=task.vocab_size, chunk=64)
    configs = {name: HybridConfig(layers=list(layers), n_heads=n_heads, **base)
               for name, layers in families.items()}
    reference = HybridConfig(layers=RECALL_FAMILIES["attention"], **base)
    with torch.random.fork_rng(devices=[]):  # counting parameters draws no random numbers
        target = count_parameters(HybridModel(reference))
    return equal_size(configs, parameters=target)


def split_state_models(task: Recall) -> dict[str, nn.Module]:
    """DeltaNet of the recall race with its width split into :data:`STATE_HEADS` heads: the
    same parameters, 1 / STATE_HEADS of the state (swept on its own: a smaller state need not
    train best at the rate of the larger one)."""
    return {SPLIT_STATE: recall_models(task, {"DeltaNet": RECALL_FAMILIES["DeltaNet"]},
                                n_heads=STATE_HEADS)["DeltaNet"]}


def parity_models(task: Parity, families: dict[str, list[str]] | None = None
                  ) -> dict[str, nn.Module]:
    """One-layer models of width ``task.width`` for parity (bits as token ids 0 and 1), no
    convolution: only the mixer carries the state."""
    families = PARITY_FAMILIES if families is None else families
    return equal_size({name: HybridConfig(layers=list(layers), vocab_size=2, d_model=task.width,
                                          d_ff=4 * task.width, output_size=2, short_conv=None)
                       for name, layers in families.items()})


def parity_pair_models(task: Parity) -> dict[str, nn.Module]:
    """Chapter 7's counterpoint: an LSTM of ``task.width`` units against a causal Transformer
    of two blocks at that width, with sinusoidal positions (so that positions beyond the
    training lengths have an encoding), built in order from the current random state."""
    bits = dict(vocab_size=2, output_size=2, readout="all", loss="cross_entropy")
    return {"LSTM": RecurrentModel(RecurrentConfig(kind="lstm", input_size=8,
                                                   hidden_size=task.width, **bits)),
            "Transformer": TransformerModel(TransformerConfig(
                d_model=task.width, n_heads=4, n_layers=2, d_ff=4 * task.width, causal=True,
                max_len=128, **bits))}


def train_recall(model: nn.Module, task: Recall, *, lr: float, seed: int,
                 progress: bool | None = None) -> nn.Module:
    """Train on the mixture of pair counts: warm-up, cosine decay, one pair count per batch."""
    train(model, multi_query_recall_batches(task.pairs, task.vocab_size,
                                            batch_size=task.batch_size),
          steps=task.steps, lr=lr, warmup_steps=task.steps // 10, schedule="cosine",
          clip_grad_norm=1.0, seed=seed, progress=progress)
    return model


def train_parity(model: nn.Module, task: Parity, *, lr: float, seed: int,
                 progress: bool | None = None) -> nn.Module:
    """Train on strings of 1 to ``task.lengths[0]`` bits, a label at every bit."""
    train(model, running_parity_batches(1, task.lengths[0], batch_size=task.batch_size),
          steps=task.steps, lr=lr, warmup_steps=task.steps // 10, schedule="cosine",
          clip_grad_norm=1.0, seed=seed, progress=progress)
    return model


def recall_tests(task: Recall, examples: int) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Held-out MQAR sequences for each number of pairs (their own seeds, never trained on)."""
    return {n: multi_query_recall(examples, n, task.vocab_size,
                                  generator=torch.Generator().manual_seed(1000 + n))
            for n in task.pairs}


def parity_tests(task: Parity, examples: int) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    return {n: running_parity(examples, n, generator=torch.Generator().manual_seed(7 + n))
            for n in task.lengths}


@torch.no_grad()
def recall_scores(model: nn.Module, tests: dict) -> list[dict]:
    """One row per number of pairs: the share of queries answered right."""
    model.eval()
    device = next(model.parameters()).device
    return [{"pairs": n, "accuracy": recall_accuracy(model(x.to(device))[0], y.to(device)).item()}
            for n, (x, y) in tests.items()]


@torch.no_grad()
def parity_scores(model: nn.Module, tests: dict) -> list[dict]:
    """One row per length: ``accuracy``, the share of strings whose parity (the last label) is
    right, and ``running``, the share of every position's label that is right (a smoother
    score, which tells rates apart even when the last label stays at chance)."""
    model.eval()
    device = next(model.parameters()).device
    rows = []
    for n, (x, y) in tests.items():
        right = model(x.to(device))[0].argmax(-1) == y.to(device)  # (B, T)
        rows.append({"length": n, "accuracy": right[:, -1].float().mean().item(),
                     "running": right.float().mean().item()})
    return rows


# what a sweep of each task trains and scores: its budget, models, training, held-out tests
SWEPT = {"recall": (recall_task, recall_models, train_recall, lambda t: recall_tests(t, 256)),
         "recall_heads": (recall_task, split_state_models, train_recall,
                          lambda t: recall_tests(t, 256)),
         "parity": (parity_task, parity_models, train_parity, lambda t: parity_tests(t, 500)),
         "parity_pair": (parity_pair_task, parity_pair_models, train_parity,
                         lambda t: parity_tests(t, 500))}


def sweep(task_name: str, grid: list[float], *, seed: int = 0,
          families: list[str] | None = None) -> dict:
    """Train each family of ``task_name`` (a key of :data:`SWEPT`; ``families`` to sweep
    some of them) at each rate of ``grid`` with ``seed``, score it (recall: mean over the pair
    counts; parity: every position's label at the training length) and record the sweep as
    ``data/<task_name>_rates.json``, merged into what that file already holds (so a grid that
    left a family's best rate at its edge is widened by sweeping that family again)."""
    check_choice("task_name", task_name, tuple(SWEPT))
    make_task, build, fit, make_tests = SWEPT[task_name]
    task = make_task()
    tests = make_tests(task)
    recall = isinstance(task, Recall)
    score = recall_scores if recall else parity_scores
    results = sweeps.recorded_results(f"{task_name}_rates")
    for lr in grid:
        torch.manual_seed(seed)
        for name, model in build(task).items():
            if families is not None and name not in families:
                continue
            rows = score(fit(model, task, lr=lr, seed=seed, progress=False), tests)
            value = sum(r["accuracy"] for r in rows) / len(rows) if recall else rows[0]["running"]
            results.setdefault(name, {})[str(lr)] = value
            print(f"{task_name} {name} lr {lr:g}: {value:.3f}", flush=True)
    return sweeps.record(f"{task_name}_rates", results, lower_is_better=False, settings={
        "task": task.__dict__, "seed": seed,
        "score": "mean recall over the pair counts" if recall else
                 f"accuracy of every position's label at length {task.lengths[0]}"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("sweep", help="sweep a task's learning rates into data/")
    run.add_argument("task", choices=list(SWEPT))
    run.add_argument("--grid", type=float, nargs="+", required=True)
    run.add_argument("--families", nargs="+", default=None)
    args = parser.parse_args(argv)
    print(sweep(args.task, args.grid, families=args.families)["rates"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
