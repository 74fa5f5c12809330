"""The book's model families, one file each.

:mod:`.mlp` (multilayer perceptrons, chapter 1), :mod:`.bow` (bag-of-words and n-gram
classifiers, chapter 2), :mod:`.rnn`, :mod:`.lstm` and :mod:`.gru` (the recurrent cells, written
out, chapters 3 and 4), :mod:`.recurrent` (one task model around any of them, fused or scratch),
:mod:`.seq2seq` (the encoder-decoder and its attention, and the encoder-decoder Transformer,
chapter 5), :mod:`.attention` and :mod:`.transformer` (chapters 6 and 7), :mod:`.modern` (the
block of today's open language models: RMSNorm, SwiGLU, rotary positions, grouped-query
attention, chapter 7), :mod:`.linear_rnn` (linear recurrences trained by a parallel scan:
minGRU and minLSTM, chapter 10), :mod:`.matrix_state` (linear attention and the delta rule: a
matrix state, chapter 11), :mod:`.hybrid` (stacks whose layers hold different mixers, chapter
11), and :mod:`.ngram` (count n-gram language models, the baselines of every language-model
figure).

:mod:`.block` is the one pre-norm block around any time mixer; :mod:`.shared` holds what they
all use (the task loss and readout, a parameter count, evaluating with the mode restored) and
:mod:`.pairs` builds models in equal-sized sets for a race.

One vocabulary (``tests/unit/test_api_conventions.py`` reads the signatures and fails on drift):

==================  ===================================================================
name                meaning
==================  ===================================================================
``x``, ``targets``  a model's inputs and what it should output: ``forward(x, targets=None)
                    -> (out, loss)`` (an encoder-decoder reads ``source`` and ``target``)
``state``           what a recurrent layer or cell carries from step to step
                    (``forward(x, state=None) -> (out, state)``; the LSTM's is ``(h, c)``)
``vocab_size``      how many token (or feature) ids there are; ``source_vocab_size`` and
                    ``target_vocab_size`` for the two sides of a translation
``output_size``     how many numbers a model outputs per prediction (classes, or 1)
``max_len``         the longest sequence a model accepts (its learned positions)
``length``          the length of the sequences a data function makes
``hidden_size``     a recurrent model's width; ``d_model`` an attention model's
``batch_size``      examples per batch; always a keyword argument
==================  ===================================================================

Every ``*Config`` checks its fields when it is made, naming the one that is wrong.

Nothing here knows about the training loop or the book: they are one and two floors up
(:mod:`rnn2transformer`, :mod:`rnn2transformer.book`), and a test imports this package in a
fresh interpreter and checks that neither was loaded.
"""
