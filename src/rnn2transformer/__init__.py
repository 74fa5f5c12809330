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

Modules: :mod:`.device` (device and seed), :mod:`.training` (the one training loop),
:mod:`.charts` (Altair theme and the book's offline renderer), :mod:`.book` (the run stamp a
chapter prints, glue), :mod:`.synthetic` (data sets the package generates), :mod:`.corpus` (the
shipped Shakespeare corpus and tasks built from it), :mod:`.tokenizers` (vocabulary, character and
word tokenisers), :mod:`.exercises` (self-check cells), :mod:`.explorers` (live ipywidgets),
:mod:`.profiling` (timing, memory, the equal-size throughput sweep), :mod:`.scaling` (loss
against training compute), :mod:`.distributed` (the same loop data-parallel under ``torchrun``).

Model families, one file each: :mod:`.mlp` (multilayer perceptrons), :mod:`.bow` (bag-of-words and
n-gram classifiers), :mod:`.rnn`, :mod:`.lstm` and :mod:`.gru` (recurrent cells, with
:mod:`.recurrent` putting them to work), :mod:`.seq2seq` (the encoder-decoder and its attention,
trained on :mod:`.toy_language`'s generated language pair), :mod:`.attention` and
:mod:`.transformer`.
"""

from .book import RunStamp, glue, start_run
from .device import get_device, set_seed
from .training import train

__version__ = "0.1.0"

__all__ = ["get_device", "set_seed", "train", "start_run", "RunStamp", "glue", "__version__"]
