"""Every setting the package takes from the environment, in one place, read when it is used.

The package's ground floor: it imports nothing from the rest of the package, and every other
module asks it instead of reading ``os.environ`` (a test checks). Each setting is read at call
time, never at import, so a notebook or a test that changes a variable sees the change.

============================  ==============================================================
variable                      meaning
============================  ==============================================================
``RNN2T_SCALE``               ``default`` (unset: fits a laptop CPU's budget), ``full`` (the
                              papers' settings, meant for a GPU) or ``smoke`` (a launch test:
                              every run, timing loop, held-out set, seed list, sweep and
                              count table cut to what checks that a chapter runs; its numbers
                              mean nothing; see :data:`scale`)
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

# What RNN2T_SCALE=smoke keeps. Each size below is the smallest that still runs every line of
# every chapter; the smoke scale is a launch test (tests/notebooks, with the exercises), so these
# are the one place that decides how small "smoke" is.
# every run trains this many steps at most, with as many evaluations as the real run would have
# had, up to one per step (a chapter that reads several rows finds them)
SMOKE_STEPS = 6
# held-out and evaluation sets: this many examples (or windows) at most, and a held-out text
# this many characters (tokens) at most
SMOKE_HELD_OUT = 64
SMOKE_HELD_OUT_TEXT = 2_048
# a generated training set: this many examples at most (a cut run sees a few hundred)
SMOKE_TRAINING = 1_024
# a text that count tables (n-gram baselines) or a tokenizer are fitted on: this many characters
SMOKE_CORPUS = 20_000
# a sweep keeps its first two values (sweeps run from the cheapest setting up); a list of seeds
# its first seed


def _read(name: str) -> str:
    return os.environ.get(name, "")


def current_scale() -> str:
    """``RNN2T_SCALE``: ``smoke``, ``default`` or ``full`` (see the table above)."""
    value = _read(ENV_SCALE) or "default"
    if value not in SCALES:
        raise ValueError(f"{ENV_SCALE} must be one of {list(SCALES)}, got {value!r}")
    return value


def smoke() -> bool:
    """True at the smoke scale, where a comparison may rest on fewer seeds or rounds than a
    verdict needs (and is then never decided)."""
    return current_scale() == "smoke"


class Scale:
    """An experiment's sizes at the current ``RNN2T_SCALE``: the one place that decides what
    each kind of size becomes at each scale (chapters import the instance :data:`scale`).

    ``scale(default, full=...)`` picks a size that is the experiment itself (a model's width,
    a run's steps): ``default`` at the default and the smoke scale, where ``train`` and the
    timing helpers cut the loops themselves short (:func:`steps_at_scale`,
    :func:`repeats_at_scale`). The methods name sizes that a launch test need not pay for, and
    shrink them at the smoke scale only:

    * ``scale.held_out(n, full=...)``: examples in a held-out or evaluation set
      (:data:`SMOKE_HELD_OUT` at most);
    * ``scale.held_out_text(n, full=...)``: characters (tokens) of a held-out text
      (:data:`SMOKE_HELD_OUT_TEXT` at most);
    * ``scale.training(n, full=...)``: examples of a generated training set
      (:data:`SMOKE_TRAINING` at most);
    * ``scale.corpus(text)``: the text a count table or a tokenizer is fitted on (its first
      :data:`SMOKE_CORPUS` characters or tokens);
    * ``scale.sweep(values, full=...)``: the settings of a sweep (its first two);
    * ``scale.seeds(seeds)``: the seeds a verdict is drawn over (the first; a comparison of
      fewer seeds than a verdict needs is then "within noise",
      :func:`rnn2transformer.evidence.compare_seeds`).
    """

    def __call__(self, default: object, *, full: object) -> object:
        """``default`` fits a laptop CPU's budget (and is also used at the smoke scale, where
        the loops themselves are cut short); ``full`` is the paper-scale setting used when
        ``RNN2T_SCALE=full``."""
        return full if current_scale() == "full" else default

    def held_out(self, default: int, *, full: int | None = None) -> int:
        """The number of examples in a held-out or evaluation set."""
        return self._capped(default, full, SMOKE_HELD_OUT)

    def held_out_text(self, default: int, *, full: int | None = None) -> int:
        """The length of a held-out text, in characters or tokens."""
        return self._capped(default, full, SMOKE_HELD_OUT_TEXT)

    def training(self, default: int, *, full: int | None = None) -> int:
        """The number of examples in a training set the chapter generates."""
        return self._capped(default, full, SMOKE_TRAINING)

    def _capped(self, default: int, full: int | None, cap: int) -> int:
        size = self(default, full=default if full is None else full)
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"a held-out size must be a whole number >= 1, got {size!r}")
        return min(size, cap) if smoke() else size

    def corpus(self, text):
        """The text (a string, a list or a tensor of ids) that counts or a tokenizer are fitted
        on: whole, or its first :data:`SMOKE_CORPUS` items at the smoke scale."""
        if not hasattr(text, "__getitem__") or not hasattr(text, "__len__"):
            raise TypeError(f"text must be a string, a list or a tensor, got {type(text).__name__}")
        return text[:SMOKE_CORPUS] if smoke() else text

    def sweep(self, default: list, *, full: list | None = None) -> list:
        """The values a sweep runs over: all of them, or the first two at the smoke scale (a
        sweep is written from its cheapest setting up, and two still make a comparison)."""
        values = self(default, full=default if full is None else full)
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"a sweep must be a non-empty list, got {values!r}")
        values = list(values)
        return values[:2] if smoke() else values

    def seeds(self, seeds: list[int]) -> list[int]:
        """The seeds a verdict is drawn over: all of them, or the first at the smoke scale."""
        if not isinstance(seeds, (list, tuple, range)) or not seeds:
            raise ValueError(f"seeds must be a non-empty list of seeds, got {seeds!r}")
        return list(seeds)[:1] if smoke() else list(seeds)


scale = Scale()


def steps_at_scale(total_steps: int, eval_every: int) -> tuple[int, int]:
    """A run's ``(total_steps, eval_every)`` at the current scale: unchanged, except at the
    smoke scale, which cuts the run to :data:`SMOKE_STEPS` steps and keeps its number of
    evaluations (up to one per step)."""
    if not smoke():
        return total_steps, eval_every
    evaluations = max(1, total_steps // eval_every)
    total_steps = min(total_steps, SMOKE_STEPS)
    return total_steps, max(1, total_steps // evaluations)


def repeats_at_scale(repeats: int, warmup: int) -> tuple[int, int]:
    """A timing loop's ``(repeats, warmup)``: one call and no warm-up at the smoke scale."""
    return (1, 0) if smoke() else (repeats, warmup)


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
