"""What every chapter needs from the package besides models: the run stamp and glue.

A chapter starts with ``run = start_run(seed=0)`` and ends with ``run.stamp()``, a small
table of the device, library versions, seed and wall time, so a reader can tell a CPU build
from a GPU build and reproduce either.

:func:`glue` hands a computed value to the page's prose (myst-nb's ``{glue:text}``), so no
number in the text is typed by hand. In Colab, where myst-nb is absent, it just shows the value.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .device import get_device, set_seed


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
            return f"CPU ({platform.processor() or platform.machine()}, "\
                f"{torch.get_num_threads()} threads)"
        return self.device.type

    def stamp(self) -> pd.DataFrame:
        """The table a chapter shows at its end."""
        from . import __version__

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


ENV_SCALE = "RNN2T_SCALE"


def scale(default: object, *, full: object) -> object:
    """Pick an experiment's size: ``default`` fits a laptop CPU's budget; ``full`` is the
    paper-scale setting used when ``RNN2T_SCALE=full`` (meant for a GPU)."""
    value = os.environ.get(ENV_SCALE, "default")
    if value not in ("default", "full"):
        raise ValueError(f"{ENV_SCALE} must be 'default' or 'full', got {value!r}")
    return full if value == "full" else default


def start_run(seed: int = 0, device: str | torch.device | None = None) -> RunStamp:
    """Seed everything, choose the device and start the chapter's clock."""
    set_seed(seed)
    chosen = device if isinstance(device, torch.device) else get_device(device)
    return RunStamp(seed=seed, device=chosen)
