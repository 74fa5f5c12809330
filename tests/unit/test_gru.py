"""The GRU of chapter 4: the scratch cell against torch.nn.GRU, its gates, and the task model."""

import pytest
import torch
from torch import nn

from rnn2transformer.models.gru import GRU
from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel, copy_weights
from rnn2transformer.training import count_parameters

from .parity import assert_scratch_matches_torch


def test_scratch_gru_matches_torch_outputs_and_gradients():
    torch.manual_seed(0)
    reference, scratch = nn.GRU(3, 6, batch_first=True), GRU(3, 6)
    copy_weights(reference, scratch)
    assert_scratch_matches_torch(scratch, reference, torch.randn(4, 9, 3), torch.randn(4, 6))


def test_gru_weights_copy_both_ways_and_not_into_an_lstm():
    scratch, reference = GRU(2, 4), nn.GRU(2, 4, batch_first=True)
    copy_weights(scratch, reference)
    x = torch.randn(2, 5, 2)
    torch.testing.assert_close(scratch(x)[0], reference(x)[0])
    with pytest.raises(TypeError, match="cannot copy gru weights into an lstm"):
        copy_weights(scratch, nn.LSTM(2, 4))


def test_update_gate_one_keeps_the_state():
    layer = GRU(2, 3)
    with torch.no_grad():  # z = sigma(+large): the state is copied, the input ignored
        layer.cell.bias_ih[3:6] = 50.0
    h0 = torch.randn(1, 3)
    out, h, gates = layer.forward_with_gates(torch.randn(1, 8, 2), h0)
    torch.testing.assert_close(h, h0)
    assert set(gates) == {"reset", "update", "candidate"}
    assert gates["update"].shape == (1, 8, 3) and bool((gates["update"] > 0.999).all())


def test_gru_task_model_has_three_quarters_of_the_lstms_recurrent_weights():
    sizes = dict(input_size=8, hidden_size=16)
    gru = RecurrentModel(RecurrentConfig(kind="gru", **sizes))
    lstm = RecurrentModel(RecurrentConfig(kind="lstm", **sizes))
    assert count_parameters(gru.rnn) * 4 == count_parameters(lstm.rnn) * 3
    scratch = RecurrentModel(RecurrentConfig(kind="gru", implementation="scratch", **sizes))
    copy_weights(gru.rnn, scratch.rnn)
    scratch.head.load_state_dict(gru.head.state_dict())
    x = torch.randn(3, 6, 8)
    torch.testing.assert_close(scratch(x)[0], gru(x)[0])


def test_identity_initialisation_is_the_irnn():
    model = RecurrentModel(RecurrentConfig(kind="rnn", nonlinearity="relu", hidden_size=5,
                                           recurrent_init="identity"))
    torch.testing.assert_close(model.weight_hh.detach(), torch.eye(5))
    with pytest.raises(ValueError, match="recurrent_init='identity' is for kind='rnn'"):
        RecurrentConfig(kind="lstm", recurrent_init="identity")
