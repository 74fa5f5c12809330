"""What every chapter needs from the package besides models: the run stamp and glue.

A chapter starts with ``run = start_run(seed=0)`` and ends with ``run.stamp()``, a small
table of the device, library versions, seed and wall time, so a reader can tell a CPU build
from a GPU build and reproduce either.

:func:`glue` hands a computed value to the page's prose (myst-nb's ``{glue:text}``), so no
number in the text is typed by hand. In Colab, where myst-nb is absent, it just shows the value.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .. import __version__
from ..device import fit_threads, get_device, set_seed, threads_used
from ..settings import scale  # noqa: F401 (the chapters import it from here)


@dataclass
class RunStamp:
    """Seed, device and start time of one chapter's run."""

    seed: int
    device: torch.device
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        """Seconds since :func:`start_run`."""
        return time.perf_counter() - self.started

    def device_name(self) -> str:
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        if self.device.type == "cpu":
            low, high = threads_used()  # fewer while other programs kept cores busy
            threads = f"{low}" if low == high else f"{low}-{high}"
            plural = "" if low == high == 1 else "s"
            return f"CPU ({platform.processor() or platform.machine()}, {threads} thread{plural})"
        return self.device.type

    def stamp(self) -> pd.DataFrame:
        """The table a chapter shows at its end."""
        rows = {
            "device": f"{self.device} - {self.device_name()}",
            "torch": torch.__version__,
            "python": platform.python_version(),
            "rnn2transformer": __version__,
            "seed": str(self.seed),
            "wall time": f"{self.elapsed():.1f} s",
        }
        return pd.DataFrame({"value": rows}).rename_axis("run")


def glue(name: str, value: object, *, display: bool = False) -> object:
    """Name ``value`` for the prose (myst-nb glue); return it so a cell can keep using it."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    # numpy scalars and 0-d tensors print as "np.float64(...)", which {glue:text}`x:.2f`
    # cannot format: hand the prose a plain Python number.
    if isinstance(value, np.generic) or (isinstance(value, torch.Tensor) and value.ndim == 0):
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # a launched notebook without myst-nb: show what the page would say
        if display:
            from IPython.display import display as show

            show(value)
        return value
    myst_glue(name, value, display=display)
    return value


# A final loss this many times the loss of a model that learned nothing has blown up: chapter 3's
# unclipped RNN ended at 5e13 against the adding problem's 1/6, finite, and was read "baseline".
DIVERGED_ABOVE = 10


def against_baseline(value: float, baseline: float, *, solved_below: float) -> str:
    """Where a final loss stands, so a sentence about who learned a task follows the run:
    ``"diverged"`` (not a finite number, or above :data:`DIVERGED_ABOVE` times ``baseline``:
    a loss that blew up, even where it has not yet overflowed), ``"solved"`` (below
    ``solved_below``), ``"baseline"`` (above nine tenths of ``baseline``, the loss of a model
    that learned nothing) or ``"partway"``. Chapters phrase their verdicts from it, on every
    device."""
    for name, number in [("value", value), ("baseline", baseline), ("solved_below", solved_below)]:
        if isinstance(number, bool) or not isinstance(number, int | float | np.floating):
            raise TypeError(f"{name} must be a number, got {type(number).__name__}")
    if not (np.isfinite(baseline) and baseline > 0 and 0 < solved_below < baseline):
        raise ValueError(f"need 0 < solved_below < baseline, got solved_below={solved_below}, "
                         f"baseline={baseline}")
    if not np.isfinite(value) or value > DIVERGED_ABOVE * baseline:
        return "diverged"
    if value < solved_below:
        return "solved"
    return "baseline" if value > 0.9 * baseline else "partway"


def start_run(seed: int = 0, device: str | torch.device | None = None) -> RunStamp:
    """Seed everything, choose the device and start the chapter's clock."""
    set_seed(seed)
    threads_used(reset=True)
    fit_threads()  # as many CPU threads as other programs leave cores free
    chosen = device if isinstance(device, torch.device) else get_device(device)
    return RunStamp(seed=seed, device=chosen)


def committed_results(prefix: str = "cuda") -> list[dict]:
    """The benchmark reports (``make bench``) committed under ``benchmarks/results`` whose file
    name starts with ``prefix``, newest first, each with its ``file`` name. A chapter shows them
    beside its own measurements, labelled with device and date; outside the repository (Colab)
    there are none."""
    import json
    from pathlib import Path

    for folder in (Path("../benchmarks/results"), Path("benchmarks/results")):
        if folder.is_dir():
            reports = [dict(json.loads(path.read_text()), file=path.name)
                       for path in sorted(folder.glob(f"{prefix}*.json"))]
            return sorted(reports, key=lambda r: r.get("date", ""), reverse=True)
    return []
