"""Every setting the package takes from the environment, in one place, read when it is used.

The package's ground floor: it imports nothing from the rest of the package, and every other
module asks it instead of reading ``os.environ`` (a test checks). Each setting is read at call
time, never at import, so a notebook or a test that changes a variable sees the change.

============================  ==============================================================
variable                      meaning
============================  ==============================================================
``RNN2T_SCALE``               ``default`` (unset: fits a laptop CPU's budget), ``full`` (the
                              papers' settings, meant for a GPU) or ``smoke`` (every training
                              and timing loop cut to a handful of iterations: it checks that
                              a chapter runs, and its numbers mean nothing)
``RNN2T_DEVICE``              ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` instead of the first
                              available (:func:`rnn2transformer.device.get_device`)
``RNN2T_THREADS``             ``auto`` (unset: as many CPU threads as there are free cores,
                              :func:`rnn2transformer.device.fit_threads`) or a number
``RNN2T_BOOK_BUILD``          set by ``make book``: the book's chart renderer, no progress bars
``RNN2T_CACHE_DIR``           where pretrained weights are cached (default
                              ``~/.cache/rnn2transformer``)
``RNN2T_LIVE_DIR``            set by ``make book``: where the web edition's models are written
============================  ==============================================================
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_SCALE = "RNN2T_SCALE"
ENV_DEVICE = "RNN2T_DEVICE"
ENV_THREADS = "RNN2T_THREADS"
ENV_BOOK_BUILD = "RNN2T_BOOK_BUILD"
ENV_CACHE_DIR = "RNN2T_CACHE_DIR"
ENV_LIVE_DIR = "RNN2T_LIVE_DIR"

SCALES = ("smoke", "default", "full")
# RNN2T_SCALE=smoke: every run trains this many steps at most, with as many evaluations as the
# real run would have had, up to one per step (a chapter that reads several rows finds them)
SMOKE_STEPS = 6


def _read(name: str) -> str:
    return os.environ.get(name, "")


def current_scale() -> str:
    """``RNN2T_SCALE``: ``smoke``, ``default`` or ``full`` (see the table above)."""
    value = _read(ENV_SCALE) or "default"
    if value not in SCALES:
        raise ValueError(f"{ENV_SCALE} must be one of {list(SCALES)}, got {value!r}")
    return value


def scale(default: object, *, full: object) -> object:
    """Pick an experiment's size: ``default`` fits a laptop CPU's budget (and is also used at
    the smoke scale, where the loops themselves are cut short); ``full`` is the paper-scale
    setting used when ``RNN2T_SCALE=full``."""
    return full if current_scale() == "full" else default


def steps_at_scale(total_steps: int, eval_every: int) -> tuple[int, int]:
    """A run's ``(total_steps, eval_every)`` at the current scale: unchanged, except at the
    smoke scale, which cuts the run to :data:`SMOKE_STEPS` steps and keeps its number of
    evaluations (up to one per step)."""
    if current_scale() != "smoke":
        return total_steps, eval_every
    evaluations = max(1, total_steps // eval_every)
    total_steps = min(total_steps, SMOKE_STEPS)
    return total_steps, max(1, total_steps // evaluations)


def repeats_at_scale(repeats: int, warmup: int) -> tuple[int, int]:
    """A timing loop's ``(repeats, warmup)``: one call and no warm-up at the smoke scale."""
    return (1, 0) if current_scale() == "smoke" else (repeats, warmup)


def device_name() -> str | None:
    """``RNN2T_DEVICE``, or None when it is unset."""
    return _read(ENV_DEVICE) or None


def threads() -> int | None:
    """``RNN2T_THREADS`` as a number of threads, or None for ``auto`` (the default)."""
    value = _read(ENV_THREADS).lower()
    if value in ("", "auto"):
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{ENV_THREADS} must be 'auto' or a whole number >= 1, got {value!r}")
    return int(value)


def book_build() -> bool:
    """True while ``make book`` executes the chapters (``RNN2T_BOOK_BUILD`` set, not 0)."""
    return _read(ENV_BOOK_BUILD) not in ("", "0")


def progress_enabled(progress: bool | None = None) -> bool:
    """Progress bars show in a live session and stay out of the book's build log; ``progress``
    True or False decides instead."""
    return bool(progress) if progress is not None else not book_build()


def cache_dir() -> Path:
    """Where pretrained weights are cached (created if missing)."""
    path = Path(_read(ENV_CACHE_DIR) or Path.home() / ".cache" / "rnn2transformer")
    path.mkdir(parents=True, exist_ok=True)
    return path


def live_dir() -> Path | None:
    """The folder the book's build serves the live models from (``models/`` in the site's
    ``_static``), created if missing; None outside the build."""
    root = _read(ENV_LIVE_DIR)
    if not root:
        return None
    path = Path(root) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
