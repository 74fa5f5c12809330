"""Who won, decided from the measurements and their spread: the one place the book's outcome
words come from.

A comparison of two models (or settings) is only a verdict when it has been repeated: each is
trained with several seeds (at least three), and the difference of their results is set
against its own spread. :func:`compare_seeds` pairs the runs by seed (the same seed gives both
models the same batches) and computes the mean difference with a 95% interval from Student's t
distribution; when the interval contains zero the answer is "within noise", and no outcome word
may be printed. Chapters glue the sentence that :func:`rnn2transformer.book.prose.verdict`
builds from the result, never a typed "wins".

An experiment has three steps: run, decide, say. The chapter runs it (:func:`over_seeds` trains
each model once per seed and returns one frame), this module decides it (:func:`compare`, from
that frame), and :mod:`rnn2transformer.book.claims` says it (a ``Claim`` glues the verdict,
and whether every model had learned the task, under one set of keys).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from .settings import smoke

MIN_SEEDS = 3
# Two-sided 95% quantiles of Student's t distribution by degrees of freedom (the standard
# table); beyond 30 the normal quantile is close enough.
T_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
        17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042}


def t_quantile(df: int) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"df must be at least 1, got {df}")
    if df in T_95:
        return T_95[df]
    below = [k for k in T_95 if k < df]
    return 1.960 if df > 30 else T_95[max(below)]  # between table rows: the wider interval


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_seeds`: ``a`` against ``b``."""

    a: str
    b: str
    mean_a: float
    mean_b: float
    difference: float  # mean of a - b over the paired seeds
    margin: float  # half-width of the 95% interval of the difference
    seeds: int
    lower_is_better: bool

    @property
    def decided(self) -> bool:
        """True when the interval of the difference excludes zero."""
        return abs(self.difference) > self.margin

    @property
    def winner(self) -> str | None:
        """The better of the two, or None when the difference is within noise."""
        if not self.decided:
            return None
        a_better = (self.difference < 0) == self.lower_is_better
        return self.a if a_better else self.b

    @property
    def loser(self) -> str | None:
        return None if self.winner is None else (self.b if self.winner == self.a else self.a)


def compare_seeds(a: Sequence[float], b: Sequence[float], *, names: tuple[str, str] = ("A", "B"),
            lower_is_better: bool = True) -> Comparison:
    """Compare the results ``a`` and ``b`` of two models over the same seeds (``a[i]`` and
    ``b[i]`` come from seed ``i``): their means, the mean paired difference and its 95%
    interval. ``lower_is_better`` for losses and times, False for accuracies. At the smoke
    scale (a launch test, one seed) fewer seeds are taken, and the result is within noise."""
    a, b = _values("a", a), _values("b", b)
    if len(a) != len(b):
        raise ValueError(f"a and b must come from the same seeds, got {len(a)} and {len(b)} "
                         "values")
    if len(a) < MIN_SEEDS and not (smoke() and a):
        raise ValueError(f"a verdict needs at least {MIN_SEEDS} seeds per model, got {len(a)}")
    if not (isinstance(names, tuple) and len(names) == 2 and all(isinstance(n, str) and n
                                                                  for n in names)):
        raise TypeError(f"names must be a pair of non-empty strings, got {names!r}")
    n = len(a)
    differences = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(differences) / n
    if n < MIN_SEEDS:  # the smoke scale's one seed (settings.scale.seeds): never a verdict
        margin = math.inf
    else:
        spread = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
        margin = t_quantile(n - 1) * spread / math.sqrt(n)
    return Comparison(a=names[0], b=names[1], mean_a=sum(a) / n, mean_b=sum(b) / n,
                      difference=mean, margin=margin, seeds=n,
                      lower_is_better=bool(lower_is_better))


def compare_rounds(rounds: Mapping[str, Sequence[float]], a: str, b: str, *,
                   names: tuple[str, str] | None = None) -> Comparison:
    """Call ``a`` against call ``b`` in milliseconds, from the seconds that
    :func:`rnn2transformer.profiling.paired_rounds` timed: round ``i`` of both shared the
    machine's load, so the rounds pair up like seeds. Lower is better; ``names`` are the two
    sides as a sentence names them (default: ``a`` and ``b``)."""
    if not isinstance(rounds, Mapping):
        raise TypeError(f"rounds must map call names to their seconds, got "
                        f"{type(rounds).__name__}")
    if a == b:
        raise ValueError(f"a and b must be two different calls, got {a!r} twice")
    for call in (a, b):
        if call not in rounds:
            raise KeyError(f"no rounds for {call!r}; the calls timed are {list(rounds)}")
    seconds = [_values(f"rounds[{call!r}]", rounds[call]) for call in (a, b)]
    return compare_seeds([1000 * s for s in seconds[0]], [1000 * s for s in seconds[1]],
                         names=names or (a, b))


def compare_rounds_by_length(rounds: Mapping[int, Mapping[str, Sequence[float]]], a: str,
                             b: str, *, names: tuple[str, str] | None = None
                             ) -> dict[int, Comparison]:
    """:func:`compare_rounds` at every length of ``rounds`` (length -> that length's
    ``paired_rounds``) where both ``a`` and ``b`` were timed (a slow call may stop short of the
    longest lengths); at least one length must have both."""
    if not isinstance(rounds, Mapping) or not all(isinstance(r, Mapping)
                                                  for r in rounds.values()):
        raise TypeError(f"rounds must map lengths to paired rounds (dicts of call names to "
                        f"seconds), got {rounds!r}")
    both = {length: timed for length, timed in rounds.items() if a in timed and b in timed}
    if not both:
        raise KeyError(f"no length has rounds for both {a!r} and {b!r}; the calls timed are "
                       f"{sorted({call for timed in rounds.values() for call in timed})}")
    return {length: compare_rounds(timed, a, b, names=names) for length, timed in both.items()}


def _values(name: str, values: Sequence[float]) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers, one per seed, got "
                        f"{values!r}") from None
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} holds a value that is not finite (a diverged run?): {out}")
    return out


def over_seeds(build: Callable[[], dict[str, object]],
               run: Callable[[str, object, int], object], seeds: Sequence[int]) -> pd.DataFrame:
    """Run an experiment once per seed: for each seed, seed torch (the models' initial
    weights), ``build()`` the models to compare (a dict of names to models, made fresh for
    every seed) and call ``run(name, model, seed)`` on each; ``run`` returns one row (a dict of
    measurements) or a list of rows. Returns every row with its ``model`` and ``seed``, the
    frame :func:`compare` reads. Run ``i`` of every model sees seed ``i`` (the same batches),
    so results pair up by seed."""
    import torch  # here, not at the top: deciding a claim needs no torch

    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of ints, got {seeds!r}")
    if not callable(build) or not callable(run):
        raise TypeError(f"build and run must be callables, got {type(build).__name__} and "
                        f"{type(run).__name__}")
    rows = []
    for seed in seeds:
        torch.manual_seed(seed)
        models = build()
        if not isinstance(models, dict) or not models:
            raise TypeError(f"build() must return a dict of names to models, got "
                            f"{type(models).__name__}")
        for name, model in models.items():
            result = run(name, model, seed)
            for row in result if isinstance(result, list) else [result]:
                rows.append({"model": name, "seed": seed, **row})
    return pd.DataFrame(rows)


def compare(frame: pd.DataFrame, metric: str, a: str, b: str, *, lower_is_better: bool = True,
            names: tuple[str, str] | None = None, **where: object) -> Comparison:
    """:func:`compare_seeds` on a frame of :func:`over_seeds` rows: ``metric`` of model ``a``
    against model ``b``, paired by seed. ``where`` selects rows first (``pairs=16`` keeps the
    rows whose ``pairs`` column is 16); ``names`` are the two sides as a sentence names them
    (default: ``a`` and ``b``)."""
    if not isinstance(frame, pd.DataFrame) or not {"model", "seed", metric} <= set(frame):
        raise ValueError(f"frame must hold the columns model, seed and {metric!r}, got "
                         f"{list(frame.columns) if isinstance(frame, pd.DataFrame) else frame}")
    for column, value in where.items():
        if column not in frame:
            raise ValueError(f"no column {column!r} to select on; columns are {list(frame)}")
        frame = frame[frame[column] == value]
    sides = []
    for model in (a, b):
        rows = frame[frame.model == model]
        if rows.empty:
            raise ValueError(f"no rows for model {model!r}; models are "
                             f"{sorted(frame.model.unique())}")
        if rows.seed.duplicated().any():
            raise ValueError(f"model {model!r} has more than one row per seed: select with "
                             "where=... first")
        sides.append(rows.set_index("seed")[metric])
    if set(sides[0].index) != set(sides[1].index):
        raise ValueError(f"{a!r} and {b!r} must come from the same seeds, got "
                         f"{sorted(sides[0].index)} and {sorted(sides[1].index)}")
    seeds = sorted(sides[0].index)
    return compare_seeds(sides[0][seeds].tolist(), sides[1][seeds].tolist(),
                         names=names or (a, b), lower_is_better=lower_is_better)
