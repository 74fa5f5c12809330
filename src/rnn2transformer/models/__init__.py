"""The book's model families, one file each.

:mod:`.mlp` (multilayer perceptrons, chapter 1), :mod:`.bow` (bag-of-words and n-gram
classifiers, chapter 2), :mod:`.rnn`, :mod:`.lstm` and :mod:`.gru` (the recurrent cells, written
out, chapters 3 and 4), :mod:`.recurrent` (one task model around any of them, fused or scratch),
:mod:`.ensemble` (many such models trained as one, a sweep in one fused layer),
:mod:`.seq2seq` (the encoder-decoder and its attention, chapter 5), :mod:`.attention` and
:mod:`.transformer` (chapters 6 and 7).

Nothing here knows about the book: the training loop, data and experiments are one level up
(:mod:`rnn2transformer`), the book's own machinery (charts, build records, exercises, the
benchmark, the web edition's exports) in :mod:`rnn2transformer.book`.
"""
