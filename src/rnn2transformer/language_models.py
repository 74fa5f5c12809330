"""The book's character language models, trained once and read by every chapter that needs them.

Chapters 7 to 11 ask one question of language models: which family, at the same size and the
same training, models Shakespeare's text better, and how does it use its context? A race is
only worth reading when every runner has learned the text, and the book's bar is honest: each
family's mean over three seeds must end below the count 4-gram with Witten-Bell smoothing
(:mod:`rnn2transformer.models.ngram`), which a model that merely learned spelling does not
reach. So the book trains one set of models well, here, and every later reading uses them
(chapter 7's race, chapter 8's pretrained bodies, chapter 9's context and streaming, chapter
10's third runner, the live widgets, the verdict):

* the families of :func:`~rnn2transformer.models.pairs.char_lm_trio` at equal parameters (an
  LSTM, a Transformer and a minGRU model), built afresh for each seed after
  ``torch.manual_seed(seed)``, three seeds (the first alone at the smoke scale, a launch test);
* one :class:`Protocol`: windows of ``length`` characters, ``batch_size`` windows a step,
  ``steps`` steps with a linear warm-up and a cosine decay, gradients clipped at 1;
* each family at its own peak learning rate, chosen by a sweep over a grid on seed 0 whose
  result is committed with its provenance (``data/lm_learning_rates.json``, written by
  ``python -m rnn2transformer.language_models sweep``, :mod:`rnn2transformer.sweeps`; the
  chapters show the table). A rate at the edge of its grid is refused: the best rate must lie
  inside the grid, or the sweep has not found it.

Each run is a :func:`~rnn2transformer.transfer.pretrained` checkpoint in the cache
(``RNN2T_CACHE_DIR``), named by family, seed and a digest of the protocol and learning rate,
so a chapter loads a finished run at once and trains a missing one (it says which). The book's
build trains them before the chapters, two at a time (``python -m
rnn2transformer.language_models train-all --jobs 2``, which the Makefile's ``book`` target
runs before the prefill).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from dataclasses import asdict, dataclass

import pandas as pd
import torch
from torch import nn

from . import sweeps
from ._checks import check_choice
from .corpus import char_lm_batches, char_lm_eval_set, shakespeare_split
from .models.ngram import ngram_baselines
from .models.pairs import char_lm_trio
from .models.shared import count_parameters
from .settings import cache_dir, scale
from .transfer import pretrained

FAMILIES = ("LSTM", "Transformer", "minGRU")
SEEDS = (0, 1, 2)
RATES = "lm_learning_rates"  # the recorded sweep, data/lm_learning_rates.json
LADDER = (1, 2, 3, 4, 5)  # the count models every language-model figure is read against


@dataclass(frozen=True)
class Protocol:
    """How the book's language models are trained: the same for every family and seed."""

    width: int = 64  # char_lm_trio's width (about 108,000 parameters per model)
    length: int = 256  # characters per window (the context the models learn to use)
    batch_size: int = 8  # windows per step: 2,048 characters
    steps: int = 4000
    warmup_steps: int = 200
    eval_every: int = 500
    held_out: int = 40_000  # held-out characters scored (the first after the split)

    @property
    def characters(self) -> int:
        """Characters of training text the run reads."""
        return self.steps * self.batch_size * self.length

    @property
    def budget(self) -> str:
        return (f"{self.steps:,} steps of {self.batch_size * self.length:,} characters, "
                f"{self.length}-character windows")

    def digest(self, lr: float) -> str:
        """A short name for these settings and ``lr``, part of each cached run's file name."""
        return hashlib.sha256(json.dumps([asdict(self), lr]).encode()).hexdigest()[:10]


def protocol() -> Protocol:
    """The protocol at the current scale (``full``: ten times the steps; ``smoke``: ``train``
    cuts the steps itself, and the held-out text is shortened)."""
    return Protocol(steps=scale(4000, full=40_000), eval_every=scale(500, full=2000),
                    held_out=scale.held_out_text(40_000))


def build(family: str, seed: int, *, width: int, vocab_size: int, length: int) -> nn.Module:
    """The family's model at ``width``, initialised from ``seed`` (the trio is built whole, so
    every family's weights come from the same draws whatever the others are); ``length`` is the
    Transformer's window."""
    check_choice("family", family, FAMILIES)
    torch.manual_seed(seed)
    return char_lm_trio(width, vocab_size=vocab_size, max_len=length)[family]


def learning_rates() -> dict:
    """The committed learning-rate sweep (:func:`rnn2transformer.sweeps.load`):
    ``{"rates": {family: lr}, "grid": [...], "results": {family: {lr: bits}}, ...}``."""
    return sweeps.load(RATES)


def train_one(family: str, seed: int, *, lr: float | None = None, steps: int | None = None,
              device: torch.device | None = None, progress: bool | None = None
              ) -> tuple[nn.Module, pd.DataFrame, bool]:
    """Train (or load from the cache) one of the book's models; returns the model, its
    history and whether it came from the cache. ``lr`` and ``steps`` default to the committed
    rate and the protocol (the sweep passes its own)."""
    p, corpus = protocol(), shakespeare_split()
    lr = learning_rates()["rates"][family] if lr is None else lr
    p = p if steps is None else Protocol(**{**asdict(p), "steps": steps})
    name = f"book-lm-{family.lower()}-seed{seed}-{p.digest(lr)}"
    cached = (cache_dir() / f"{name}.pt").exists()
    val = char_lm_eval_set(corpus.held_out[: p.held_out], length=p.length)
    model, history = pretrained(
        name, lambda: build(family, seed, width=p.width, vocab_size=len(corpus.chars),
                             length=p.length),
        train_data=char_lm_batches(corpus.train, length=p.length, batch_size=p.batch_size),
        val_data=val, steps=p.steps, lr=lr, warmup_steps=p.warmup_steps, schedule="cosine",
        clip_grad_norm=1.0, eval_every=p.eval_every, seed=seed, device=device,
        progress=progress)
    return model, history, cached


@dataclass
class BookLanguageModels:
    """What :func:`book_language_models` returns: the models by ``(family, seed)``, their
    histories (one frame, with ``model`` and ``seed`` columns), one row per run in
    ``results`` (bits per character on the held-out text, seconds, parameters, learning
    rate), the count ladder on the same text (``baselines``, Witten-Bell, orders 1-5), the
    protocol, the sweep and the corpus split."""

    models: dict[tuple[str, int], nn.Module]
    histories: pd.DataFrame
    results: pd.DataFrame
    baselines: dict[str, float]
    protocol: Protocol
    sweep: dict
    loaded: int  # runs read from the cache; the others were trained now

    def means(self) -> pd.Series:
        """Each family's mean bits per character over its seeds."""
        return self.results.groupby("model")["bits/char"].mean()


def book_language_models(families: tuple[str, ...] = FAMILIES,
                         seeds: tuple[int, ...] | list[int] = SEEDS, *,
                         device: torch.device | None = None) -> BookLanguageModels:
    """Every family's model at every seed, trained or loaded (see the module docstring); prints
    how many came from the cache and how many were trained, and how long that took."""
    for family in families:
        check_choice("family", family, FAMILIES)
    p, corpus, sweep = protocol(), shakespeare_split(), learning_rates()
    models, histories, rows, loaded = {}, [], [], 0
    for seed in scale.seeds(list(seeds)):  # the first alone at the smoke scale
        for family in families:
            model, history, cached = train_one(family, seed, device=device)
            loaded += cached
            models[family, seed] = model
            histories.append(history.assign(model=family, seed=seed))
            rows.append({"model": family, "seed": seed, "parameters": count_parameters(model),
                         "lr": sweep["rates"][family],
                         "bits/char": history.val_loss.iloc[-1] / math.log(2),
                         "seconds": history.elapsed_s.iloc[-1]})
    results = pd.DataFrame(rows)
    held_out = corpus.held_out[: p.held_out]
    baselines = ngram_baselines(scale.corpus(corpus.train), held_out, len(corpus.chars),
                                orders=LADDER, smoothing="witten_bell")
    trained = len(rows) - loaded
    print(f"the book's language models: {loaded} of {len(rows)} loaded from the cache"
          + (f", {trained} trained now ({results.seconds.sum():,.0f} s of training in all)"
             if trained else ""))
    return BookLanguageModels(models=models, histories=pd.concat(histories, ignore_index=True),
                              results=results, baselines=baselines, protocol=p, sweep=sweep,
                              loaded=loaded)


def sweep(grid: list[float], *, families: tuple[str, ...] = FAMILIES, seed: int = 0,
          steps: int | None = None) -> dict:
    """Train each family at each rate of ``grid`` (seed ``seed``, the protocol's steps unless
    ``steps``) and record the result (:func:`rnn2transformer.sweeps.record`), which
    :func:`learning_rates` then reads. Returns it."""
    results = {}
    for family in families:
        results[family] = {}
        for lr in grid:
            _, history, _ = train_one(family, seed, lr=lr, steps=steps, progress=False)
            results[family][str(lr)] = history.val_loss.iloc[-1] / math.log(2)
            print(f"{family} lr {lr:g}: {results[family][str(lr)]:.4f} bits/char", flush=True)
    return sweeps.record(RATES, results, settings={
        **asdict(protocol()), "steps": steps or protocol().steps, "seed": seed,
        "score": "held-out bits per character at the end of the run"})


def _train_unit(family: str, seed: int, threads: int | None) -> tuple[str, int, float, bool]:
    """One run of :func:`train_all`, in a worker process."""
    import os

    from .settings import ENV_THREADS

    if threads is not None:
        os.environ[ENV_THREADS] = str(threads)
    _, history, cached = train_one(family, seed, progress=False)
    return family, seed, history.val_loss.iloc[-1] / math.log(2), cached


def train_all(*, jobs: int = 1, families: tuple[str, ...] = FAMILIES,
              seeds: tuple[int, ...] = SEEDS) -> None:
    """Train every run :func:`book_language_models` reads into the cache, ``jobs`` at a time
    (each on one thread when there are several, as the book's chapters run: ``make book``
    calls this before it executes them)."""
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    started = time.perf_counter()
    units = [(family, seed) for seed in seeds for family in families]
    # the slowest families first (their steps cost the most on a CPU), so the queues end together
    units.sort(key=lambda unit: ("Transformer", "minGRU", "LSTM").index(unit[0]))
    threads = 1 if jobs > 1 else None
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_train_unit, family, seed, threads) for family, seed in units]
        for future in futures:
            family, seed, bits, cached = future.result()
            print(f"{family} seed {seed}: {'cached' if cached else 'trained'}, {bits:.4f} "
                  "bits/char", flush=True)
    print(f"the book's language models: {len(units)} runs, {jobs} at a time, in "
          f"{time.perf_counter() - started:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    every = commands.add_parser("train-all", help="train every run the chapters read")
    every.add_argument("--jobs", type=int, default=1)
    one = commands.add_parser("train", help="train (or find cached) one family at one seed")
    one.add_argument("family", choices=FAMILIES)
    one.add_argument("seed", type=int)
    rates = commands.add_parser("sweep", help=f"sweep the learning rates into data/{RATES}.json")
    rates.add_argument("--grid", type=float, nargs="+", required=True)
    rates.add_argument("--steps", type=int, default=None)
    rates.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    args = parser.parse_args(argv)
    if args.command == "train-all":
        train_all(jobs=args.jobs)
    elif args.command == "train":
        _, history, cached = train_one(args.family, args.seed, progress=False)
        print(f"{args.family} seed {args.seed}: "
              f"{'cached' if cached else 'trained'}, "
              f"{history.val_loss.iloc[-1] / math.log(2):.4f} bits/char", flush=True)
    else:
        result = sweep(args.grid, families=tuple(args.families), steps=args.steps)
        print(f"recorded data/{RATES}.json: {result['rates']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
