"""rnn2transformer: the shared code of the book *From RNN to Transformers*.

Every chapter imports this package and never copies its code, so the page and the code that
produced its figures cannot drift apart.

Conventions used everywhere in the package:

* Tensors are batch-first. Shape comments use one set of letters:
  ``B`` batch, ``T`` time (sequence length), ``C`` channels/features, ``H`` heads,
  ``V`` vocabulary size, ``L`` layers.
* Models that compute a loss have ``forward(x, targets=None) -> (out, loss)``.
* Recurrent modules have ``forward(x, state=None) -> (out, state)``; attention returns
  ``(out, weights)``.
* No model names a device; :func:`get_device` chooses one (cuda, then mps, then cpu,
  overridden by ``RNN2T_DEVICE``) and :func:`set_seed` seeds ``random``, ``numpy`` and ``torch``.
* Public functions validate their inputs and raise ``ValueError``/``TypeError`` naming what was
  expected and what was given.

Three folders, three concerns:

* :mod:`rnn2transformer.models`: the model families, one file each (MLP, bag of words, the
  recurrent cells and the task model around them, the encoder-decoder, attention, the
  Transformer). They know nothing about the book.
* this folder: what trains and feeds them and the experiments on them. :mod:`.training` (the
  one training loop), :mod:`.device` (device and seed), :mod:`.distributed` (the same loop
  data-parallel under ``torchrun``), :mod:`.synthetic`, :mod:`.corpus`, :mod:`.toy_language`
  and :mod:`.tokenizers` (the data the package generates or ships), :mod:`.sampling`,
  :mod:`.profiling`, :mod:`.scaling`, :mod:`.context` and :mod:`.transfer` (generation, timing,
  compute, context and reuse experiments); :mod:`.settings` (every ``RNN2T_*`` variable) and
  :mod:`.checkpoint` (resumable runs).
* :mod:`rnn2transformer.book`: the book's own machinery, which this folder never imports. The
  run stamp and glue (in :mod:`rnn2transformer.book` itself), :mod:`.book.charts` (Altair theme
  and the offline renderer), :mod:`.book.exercises` (self-check cells), :mod:`.book.explorers`
  (live ipywidgets), :mod:`.book.export` (the web edition's live models), :mod:`.book.prose`
  (sentences built from measurements), :mod:`.book.buildinfo` (build records) and
  :mod:`.book.bench` (``make bench``).
"""

from importlib.metadata import version

from .device import get_device, set_seed
from .training import train

__version__ = version("rnn2transformer")  # one source: pyproject.toml

__all__ = ["get_device", "set_seed", "train", "__version__"]
