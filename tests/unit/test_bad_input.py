"""Bad input to a public function fails at once, with a message naming what was expected and
what was given, instead of deep inside torch or with a silently wrong number (a read of the
functions the chapters call, 2026-12-06: each case below once did one or the other)."""

import pytest
import torch
from torch import nn

from rnn2transformer import train
from rnn2transformer.book.exercises import check_function
from rnn2transformer.context import loss_by_position
from rnn2transformer.corpus import char_lm_batches, char_lm_eval_set
from rnn2transformer.models.attention import attention
from rnn2transformer.models.gru import GRU
from rnn2transformer.models.linear_rnn import MinGRU, linear_scan
from rnn2transformer.models.lstm import LSTM
from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel
from rnn2transformer.models.seq2seq import exact_match
from rnn2transformer.profiling import time_call
from rnn2transformer.sampling import generate
from rnn2transformer.training import RunSettings, accuracy, evaluate
from rnn2transformer.transfer import freeze

IDS = torch.arange(20) % 7
PAIR = (torch.zeros(4, 5, dtype=torch.long), torch.zeros(4, 5, dtype=torch.long))


def regression_model():
    return RecurrentModel(RecurrentConfig(hidden_size=4))  # the adding problem's: one output


CASES = {
    # targets (4, 1) broadcast against argmax (4,) to a 4 x 4 grid: a number, and a wrong one
    "accuracy, targets of the wrong shape": (
        lambda: accuracy(torch.randn(4, 3), torch.tensor([[0], [1], [2], [1]])),
        ValueError, r"targets must have shape logits.shape\[:-1\] = \(4,\).*got \(4, 1\)"),
    "accuracy, float targets": (
        lambda: accuracy(torch.randn(4, 3), torch.zeros(4)),
        TypeError, "targets must have an integer dtype, got torch.float32"),
    "char_lm_eval_set, a 2-D tensor": (
        lambda: char_lm_eval_set(IDS.view(4, 5), length=2),
        ValueError, r"ids must have 1 dimensions, got shape \(4, 5\)"),
    "char_lm_eval_set, float ids": (
        lambda: char_lm_eval_set(IDS.float(), length=2),
        TypeError, "ids must have an integer dtype"),
    "char_lm_batches, float ids": (
        lambda: char_lm_batches(IDS.float(), length=2, batch_size=2),
        TypeError, "ids must have an integer dtype"),
    "generate, a tensor prompt": (
        lambda: generate(regression_model(), torch.tensor([1, 2]), 3),
        TypeError, "prompt must be a list of int token ids, got Tensor"),
    "check_function, inputs that are not tensors": (
        lambda: check_function(torch.tanh, torch.tanh, [0.5, 1.0]),
        TypeError, "inputs must be tensors, got float at position 1"),
    "check_function, a negative tolerance": (
        lambda: check_function(torch.tanh, torch.tanh, [torch.zeros(2)], atol=-1.0),
        ValueError, "atol and rtol must be at least 0, got -1.0"),
    "evaluate, batch_size 0": (
        lambda: evaluate(regression_model(), PAIR, batch_size=0),
        ValueError, "batch_size must be"),
    "evaluate, metrics as a list": (
        lambda: evaluate(regression_model(), PAIR, metrics=[accuracy]),
        TypeError, "metrics must be a dict of name -> function, got list"),
    "train, metrics as a list": (
        lambda: train(regression_model(), PAIR, steps=1, metrics=[accuracy], progress=False),
        TypeError, "metrics must be a dict of name -> function, got list"),
    "RunSettings, momentum above 1": (
        lambda: RunSettings(steps=1, momentum=1.5),
        ValueError, r"momentum must be <= 1.0, got 1.5"),
    "loss_by_position, batch_size 0": (
        lambda: loss_by_position(nn.Linear(1, 1), PAIR, batch_size=0),
        ValueError, "batch_size must be"),
    "exact_match, fewer targets than sources": (
        lambda: exact_match(None, PAIR[0], PAIR[1][:1]),
        ValueError, "source and target must hold as many sentences, got 4 and 1"),
    "time_call, a device that is neither a name nor a torch.device": (
        lambda: time_call(lambda: None, device=3),
        TypeError, "device must be a torch.device or a name such as 'cpu', got int"),
    "freeze, one prefix as a str": (
        lambda: freeze(regression_model(), prefixes="rnn"),
        TypeError, r"prefixes must be a list of names, got the str 'rnn' \(write \['rnn'\]\)"),
    "linear_scan, no steps": (
        lambda: linear_scan(torch.rand(2, 0, 3), torch.rand(2, 0, 3)),
        ValueError, r"at least one step \(T >= 1\), got shape \(2, 0, 3\)"),
    "MinGRU, no steps": (
        lambda: MinGRU(3, 4)(torch.randn(2, 0, 3)),
        ValueError, r"x must have shape \(B, T, 3\) with T >= 1, got \(2, 0, 3\)"),
    "attention, a float mask": (
        lambda: attention(*torch.randn(3, 2, 4, 8), mask=torch.ones(4, 4)),
        TypeError, "mask must be a bool tensor .* got torch.float32"),
    "attention, a mask for another length": (
        lambda: attention(*torch.randn(3, 2, 4, 8), mask=torch.ones(3, 3, dtype=torch.bool)),
        ValueError, r"mask must broadcast to the scores' shape .* \(2, 4, 4\), got \(3, 3\)"),
    "attention, a query without a position axis": (
        lambda: attention(torch.randn(8), torch.randn(4, 8), torch.randn(4, 8)),
        ValueError, r"q must have at least 2 dimensions \(..., T, d\), got shape \(8,\)"),
    # a bare tensor was unpacked row by row into h and c, and the layer ran on
    "LSTM, a state that is one tensor": (
        lambda: LSTM(3, 4)(torch.randn(2, 5, 3), torch.zeros(2, 4)),
        ValueError, r"state must be a pair \(h, c\) of tensors of shape \(2, 4\), got a Tensor"),
    "LSTM, a state of the wrong width": (
        lambda: LSTM(3, 4)(torch.randn(2, 5, 3), (torch.zeros(2, 5), torch.zeros(2, 5))),
        ValueError, r"state must be a pair \(h, c\).*got \[\(2, 5\), \(2, 5\)\]"),
    "GRU, a state of the wrong width (one check for every recurrent layer)": (
        lambda: GRU(3, 4)(torch.randn(2, 5, 3), torch.zeros(2, 5)),
        ValueError, r"state must be a tensor of shape \(2, 4\), got a Tensor of shape \(2, 5\)"),
    # regression targets (B, 1) against outputs (B,) averaged a B x B grid of errors
    "a regression model, targets of shape (B, 1)": (
        lambda: regression_model()(torch.randn(2, 6, 2), torch.randn(2, 1)),
        ValueError, r"targets must have the output's shape \(2,\), got \(2, 1\)"),
    "a classifier, targets for another batch": (
        lambda: RecurrentModel(RecurrentConfig(vocab_size=5, output_size=5, readout="all",
                                               loss="cross_entropy"))(
            PAIR[0] % 5, torch.zeros(1, 5, dtype=torch.long)),
        ValueError, r"targets must hold one class id per output row, shape \(4, 5\), got \(1, 5\)"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_input_fails_at_once_naming_what_was_expected_and_given(case):
    call, error, message = CASES[case]
    with pytest.raises(error, match=message):
        call()


def test_a_device_given_by_name_is_taken_as_train_takes_it():
    assert time_call(lambda: None, device="cpu", repeats=1, warmup=0)["min_s"] >= 0
