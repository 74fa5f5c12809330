"""Learning-rate sweeps recorded with their provenance (chapters 7 to 11).

A comparison of two model families is only fair when each trains at a learning rate that suits
it, and a sweep is only believed when its best rate lies inside its grid (a best rate at the
edge says the grid was too narrow, not where the optimum is). The book's longer trainings
(the language models, the recall and parity tasks of chapter 11) sweep once, offline, and keep
the result in ``data/<name>.json`` with where it came from: the date, the commit, the machine,
the grid, every result and the settings it was run with. The chapters read it with
:func:`load` (which refuses an edge optimum) and show the table; a reader reruns a sweep with
the module that owns it (``python -m rnn2transformer.language_models sweep ...``).

A file holds ``{"rates": {family: lr}, "grid": [...], "results": {family: {lr: score}},
"lower_is_better": bool, "provenance": {...}}``.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from importlib import resources
from pathlib import Path

import torch


def _path(name: str) -> Path:
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"name must be letters, digits and '_', got {name!r}")
    with resources.as_file(resources.files("rnn2transformer") / "data" / f"{name}.json") as p:
        return Path(p)


def best_rates(results: dict[str, dict[str, float]], *, lower_is_better: bool = True
               ) -> dict[str, float]:
    """Each family's best rate; refuses one at the edge of its grid (the sweep did not find
    the optimum) or a family with fewer than three rates (no inside to be in). At the smoke
    scale, a launch test whose runs are too short to learn, the edge is allowed: there a sweep
    decides nothing."""
    from .settings import smoke

    rates = {}
    for family, by_rate in results.items():
        grid = sorted(float(r) for r in by_rate)
        if len(grid) < 3:
            raise ValueError(f"{family}: a sweep needs at least three rates, got {grid}")
        top = (min if lower_is_better else max)(by_rate.values())
        tied = sorted(float(r) for r, score in by_rate.items() if score == top)
        best = tied[len(tied) // 2]  # a plateau of equal scores (100% recall): its middle
        if best in (grid[0], grid[-1]) and not smoke():
            raise ValueError(f"{family}'s best rate {best:g} is at the edge of its grid {grid}: "
                             "widen the grid and sweep again")
        rates[family] = best
    return rates


def record(name: str, results: dict[str, dict[str, float]], *, lower_is_better: bool = True,
           settings: dict | None = None) -> dict:
    """Write the sweep ``name``: ``results`` maps each family to ``{str(lr): score}``;
    ``settings`` says how each run was trained. Returns what was written."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    sweep = {"rates": best_rates(results, lower_is_better=lower_is_better),
             "grid": sorted({float(r) for by_rate in results.values() for r in by_rate}),
             "results": results, "lower_is_better": lower_is_better,
             "provenance": {"date": time.strftime("%Y-%m-%d"), "commit": commit,
                            "torch": torch.__version__,
                            "machine": f"{platform.machine()}, {torch.get_num_threads()} "
                                       "threads", "settings": settings or {}}}
    _path(name).write_text(json.dumps(sweep, indent=1) + "\n")
    return sweep


def recorded_results(name: str) -> dict[str, dict[str, float]]:
    """The results a recorded sweep holds (``{}`` if there is none yet), unchecked: a sweep
    that widens its grid adds to them."""
    path = _path(name)
    return json.loads(path.read_text())["results"] if path.exists() else {}


def load(name: str) -> dict:
    """The recorded sweep ``name`` (see the module docstring), its best rates checked again."""
    path = _path(name)
    if not path.exists():
        raise FileNotFoundError(f"no recorded sweep {path.name}: run the sweep that writes it")
    sweep = json.loads(path.read_text())
    best_rates(sweep["results"], lower_is_better=sweep.get("lower_is_better", True))
    return sweep
