"""The LSTM of chapter 4, the shared recurrent task model, and the copy-memory task."""


import pytest
import torch
from torch import nn

from rnn2transformer.models.lstm import LSTM, LSTMCell
from rnn2transformer.models.recurrent import (
    RecurrentConfig,
    RecurrentModel,
    copy_weights,
    input_gradient_by_step,
)
from rnn2transformer.synthetic import (
    adding_problem,
)
from rnn2transformer.training import count_parameters

from .parity import assert_scratch_matches_torch


def test_scratch_lstm_matches_torch_outputs_and_gradients():
    torch.manual_seed(0)
    reference, scratch = nn.LSTM(3, 6, batch_first=True), LSTM(3, 6)
    copy_weights(reference, scratch)
    state = (torch.randn(4, 6), torch.randn(4, 6))
    assert_scratch_matches_torch(scratch, reference, torch.randn(4, 9, 3), state)


def test_weights_copy_back_into_torch():
    scratch, reference = LSTM(2, 4), nn.LSTM(2, 4, batch_first=True)
    copy_weights(scratch, reference)
    x = torch.randn(2, 5, 2)
    torch.testing.assert_close(scratch(x)[0], reference(x)[0])
    with pytest.raises(TypeError, match="cannot copy lstm weights into an rnn"):
        copy_weights(scratch, nn.RNN(2, 4))


def test_gates_are_recorded_per_step_and_in_range():
    torch.manual_seed(0)
    layer = LSTM(2, 5)
    out, (h, c), gates = layer.forward_with_gates(torch.randn(3, 7, 2))
    assert set(gates) == {"input", "forget", "candidate", "output", "cell"}
    for name in ("input", "forget", "output"):
        assert gates[name].shape == (3, 7, 5)
        assert (gates[name] > 0).all() and (gates[name] < 1).all()
    assert (gates["candidate"].abs() < 1).all()
    torch.testing.assert_close(gates["cell"][:, -1], c)
    # h_t = o_t * tanh(c_t)
    torch.testing.assert_close(out, gates["output"] * torch.tanh(gates["cell"]))


def test_forget_one_input_zero_keeps_the_cell():
    cell = LSTMCell(1, 2)
    with torch.no_grad():
        cell.weight_ih.zero_()
        cell.weight_hh.zero_()
        cell.bias_ih.copy_(torch.tensor([-50.0, -50, 50, 50, 0, 0, 0, 0]))  # i = 0, f = 1
        cell.bias_hh.zero_()
    c = torch.tensor([[0.3, -0.7]])
    state = (torch.zeros(1, 2), c)
    for _ in range(100):
        state = cell(torch.randn(1, 1), state)
    torch.testing.assert_close(state[1], c)


def test_recurrent_model_shapes_for_each_readout():
    tagger = RecurrentModel(RecurrentConfig(kind="rnn", vocab_size=12, input_size=4,
                                            hidden_size=8, output_size=12, readout="all",
                                            loss="cross_entropy"))
    ids = torch.randint(0, 12, (3, 5))
    out, loss = tagger(ids, ids)
    assert out.shape == (3, 5, 12) and loss.ndim == 0
    regressor = RecurrentModel(RecurrentConfig(kind="lstm", hidden_size=8))
    out, _ = regressor(torch.randn(3, 5, 2))
    assert out.shape == (3,)
    with pytest.raises(TypeError, match="integer dtype"):
        tagger(torch.randn(3, 5))
    with pytest.raises(ValueError, match="kind must be one of"):
        RecurrentConfig(kind="transformer")


def test_scratch_and_fused_models_agree():
    torch.manual_seed(0)
    fused = RecurrentModel(RecurrentConfig(kind="lstm", hidden_size=8))
    scratch = RecurrentModel(RecurrentConfig(kind="lstm", hidden_size=8,
                                             implementation="scratch"))
    copy_weights(fused.rnn, scratch.rnn)
    scratch.head.load_state_dict(fused.head.state_dict())
    x, y = adding_problem(4, 12)
    torch.testing.assert_close(fused(x, y)[1], scratch(x, y)[1])


def test_input_gradient_by_step_sees_through_float32_underflow():
    torch.manual_seed(0)
    model = RecurrentModel(RecurrentConfig(kind="rnn", hidden_size=16))
    with torch.no_grad():
        model.weight_hh.mul_(0.2)  # strongly contracting: float32 gradients would underflow
    x, y = adding_problem(8, 120)
    table = input_gradient_by_step(model, x, y)
    assert table.shape == (120, 3) and table.distance.iloc[0] == 119
    assert 0 < table.grad_norm.iloc[0] < 1e-40
    assert next(model.parameters()).dtype == torch.float32  # the model itself is untouched


def test_count_parameters_matches_the_lstm_formula():
    layer = nn.LSTM(32, 128, batch_first=True)
    assert count_parameters(layer) == 4 * (128 * 32 + 128 * 128 + 2 * 128)
    layer.weight_hh_l0.requires_grad_(False)
    assert count_parameters(layer, trainable_only=True) == 4 * (128 * 32 + 2 * 128)


def test_carried_state_is_exact_forward_and_stops_the_gradient_at_the_window():
    from rnn2transformer.models.recurrent import CarryState

    torch.manual_seed(0)
    model = RecurrentModel(RecurrentConfig(kind="lstm", input_size=3, hidden_size=5,
                                           output_size=2, readout="all"))
    carried = CarryState(model).train()
    x = torch.randn(2, 8, 3)
    whole, _ = model.forward_from(x)
    first, _ = carried(x[:, :4])
    x2 = x[:, 4:].clone().requires_grad_(True)
    x1 = x[:, :4].clone().requires_grad_(True)
    carried.reset()
    carried(x1)
    second, _ = carried(x2)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    second.sum().backward()
    assert x2.grad is not None and x1.grad is None  # no gradient across the window edge
    carried.eval()
    torch.testing.assert_close(carried(x[:, 4:])[0], model.forward_from(x[:, 4:])[0])


def test_stream_loss_with_one_window_per_stream_is_the_plain_loss():
    from rnn2transformer.models.recurrent import stream_loss

    torch.manual_seed(0)
    model = RecurrentModel(RecurrentConfig(vocab_size=7, input_size=4, hidden_size=6,
                                           output_size=7, readout="all",
                                           loss="cross_entropy"))
    ids = torch.randint(0, 7, (41,))
    x, y = ids[:40].view(2, 20), ids[1:41].view(2, 20)
    with torch.no_grad():
        _, plain = model(x, y)
    assert stream_loss(model, ids, window=20, streams=2) == pytest.approx(float(plain), rel=1e-5)
    carried = stream_loss(model, ids, window=5, streams=2)
    assert carried == pytest.approx(float(plain), rel=1e-5)  # carrying the state: the same
    assert stream_loss(model, ids, window=5, streams=2, carry=False) != pytest.approx(carried)


def test_a_burn_in_reads_the_tokens_before_each_window_and_scores_the_same_tokens():
    from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel, stream_loss

    torch.manual_seed(0)
    model = RecurrentModel(RecurrentConfig(kind="lstm", vocab_size=7, input_size=4,
                                           hidden_size=8, output_size=7, readout="all",
                                           loss="cross_entropy"))
    ids = torch.randint(0, 7, (2 * 6 * 10 + 1,))
    plain = stream_loss(model, ids, window=10, streams=2, carry=False, score_from=2)
    stream = stream_loss(model, ids, window=10, streams=2, carry=True, score_from=2)
    # a burn-in as long as everything before the window is the stream itself
    whole = stream_loss(model, ids, window=10, streams=2, carry=False, burn_in=60,
                        score_from=2)
    assert whole == pytest.approx(stream, rel=1e-5) and plain != pytest.approx(stream)
    with pytest.raises(ValueError, match="burn_in is for windows read from zeros"):
        stream_loss(model, ids, window=10, streams=2, carry=True, burn_in=5)
