"""Loss against training compute, and where two model families' curves cross (chapter 9).

Training compute is counted as in Kaplan et al. (2020): ``C = 6 N D`` floating-point operations
for ``N`` parameters trained on ``D`` tokens (two for the forward pass, four for the backward,
per parameter and token). It leaves out attention's extra ``T^2`` work (at the book's narrow
widths and long windows not a small share: chapter 9's exercise estimates it) and the LSTM's
lack of it; both families are charged by parameters alone.

:func:`compute_curves` turns training histories into (compute, loss) points;
:func:`frontier` takes, for each family, the lowest loss any of its sizes reached at each
compute (the compute-efficient frontier); :func:`frontier_crossings` says where one family's
frontier passes the other's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._checks import check_int


def compute_curves(runs: list[dict]) -> pd.DataFrame:
    """``runs``: dicts with ``family``, ``parameters``, ``tokens_per_step`` and ``history`` (a
    :func:`rnn2transformer.train` history with ``step`` and ``val_loss``). Returns one row per
    evaluation: family, parameters, step, compute (FLOPs) and loss."""
    rows = []
    for run in runs:
        for key in ("family", "parameters", "tokens_per_step", "history"):
            if key not in run:
                raise ValueError(f"every run needs {key!r}, got keys {sorted(run)}")
        h = run["history"]
        for step, loss in zip(h["step"], h["val_loss"], strict=True):
            rows.append({"family": run["family"], "parameters": run["parameters"],
                         "step": int(step), "loss": float(loss),
                         "compute": 6.0 * run["parameters"] * run["tokens_per_step"] * step})
    return pd.DataFrame(rows)


def frontier(curves: pd.DataFrame, *, points: int = 40) -> pd.DataFrame:
    """Per family, the lowest loss reachable with at most each compute, on a shared log grid.

    Each run is interpolated in log compute between its evaluations; past its last evaluation
    it keeps its final loss (one can always stop there), and before its first it offers nothing.
    So the frontier never rises with compute. Returns family, compute, loss.
    """
    check_int("points", points, minimum=2)
    low, high = curves.compute.min(), curves.compute.max()
    grid = np.geomspace(low, high, points)
    rows = []
    for family, part in curves.groupby("family"):
        best = np.full(points, np.inf)
        for _, run in part.groupby("parameters"):
            run = run.sort_values("compute")
            c, loss = np.log(run.compute.to_numpy()), run.loss.to_numpy()
            started = grid >= run.compute.min()  # np.interp holds the last value after the end
            best[started] = np.minimum(best[started], np.interp(np.log(grid[started]), c, loss))
        best = np.minimum.accumulate(best)
        rows += [{"family": family, "compute": g, "loss": b}
                 for g, b in zip(grid, best, strict=True) if np.isfinite(b)]
    return pd.DataFrame(rows)


def frontier_crossings(front: pd.DataFrame, first: str, second: str) -> dict[str, object]:
    """Where ``first``'s frontier passes ``second``'s: the compute values where the leader
    changes, who leads at the smallest and the largest compute both reach, and a sentence."""
    a = front[front.family == first].set_index("compute").loss
    b = front[front.family == second].set_index("compute").loss
    shared = a.index.intersection(b.index)
    if len(shared) < 2:
        raise ValueError(f"the two frontiers share fewer than two compute points ({len(shared)})")
    lead = np.sign((b[shared] - a[shared]).to_numpy())  # +1 where `first` has the lower loss
    changes = [float(np.sqrt(shared[i] * shared[i + 1])) for i in range(len(shared) - 1)
               if lead[i] != lead[i + 1] and lead[i] != 0 and lead[i + 1] != 0]
    name = {1.0: f"the {first}", -1.0: f"the {second}", 0.0: "neither"}
    start, end = name[float(lead[0])], name[float(lead[-1])]
    if not changes:
        sentence = (f"the curves do not cross: {start} has the lower loss at every compute both "
                    f"reached, from {shared[0]:.1e} to {shared[-1]:.1e} FLOPs")
    else:
        where = ", ".join(f"{c:.1e}" for c in changes)
        sentence = (f"the curves cross at about {where} FLOPs: {start} has the lower loss at "
                    f"small compute and {end} at the largest compute both reached "
                    f"({shared[-1]:.1e} FLOPs)")
    plain = {f"the {first}": first, f"the {second}": second, "neither": "neither"}
    return {"crossings": changes, "leader_small": plain[start], "leader_large": plain[end],
            "sentence": sentence}
