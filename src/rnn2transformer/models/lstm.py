"""Long short-term memory, written out (chapter 4).

Hochreiter and Schmidhuber (1997), with the forget gate of Gers, Schmidhuber and Cummins (2000),
in the book's notation and PyTorch's gate order (i, f, g, o):

    i_t = sigma(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
    f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)       candidate
    o_t = sigma(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
    c_t = f_t * c_{t-1} + i_t * g_t                          cell state
    h_t = o_t * tanh(c_t)                                    hidden state

The cell state is updated by addition, gated by ``f_t``: along that path
``dc_t/dc_{t-1} = diag(f_t)``, which the network can hold near 1 for as long as it needs.

``LSTMCell``/``LSTM`` are the teaching versions (a Python loop); their parameters have the names
and shapes of ``torch.nn.LSTM``'s, so :func:`rnn2transformer.models.recurrent.copy_weights` moves
weights either way and the book can teach with the scratch cell and train with the fused one
(:class:`rnn2transformer.models.recurrent.RecurrentModel`).
"""

from __future__ import annotations

import torch
from torch import nn

from .rnn import RecurrentWeights, check_sequence, initial_state

GATES = ("input", "forget", "candidate", "output")
State = tuple[torch.Tensor, torch.Tensor]


class LSTMCell(RecurrentWeights):
    """One LSTM step: ``(x_t, (h_{t-1}, c_{t-1})) -> (h_t, c_t)`` and the gate values.

    The four gates' weights are stacked in the order i, f, g, o, as torch.nn.LSTM stores them.
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size, blocks=4)

    def step(self, x: torch.Tensor, state: State) -> tuple[State, dict[str, torch.Tensor]]:
        h, c = state  # (B, H), (B, H)
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh  # (B, 4H)
        z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
        i = torch.sigmoid(z_i)  # i_t = sigma(W_ii x_t + W_hi h_{t-1} + b_i)
        f = torch.sigmoid(z_f)  # f_t = sigma(W_if x_t + W_hf h_{t-1} + b_f)
        g = torch.tanh(z_g)  # g_t = tanh(W_ig x_t + W_hg h_{t-1} + b_g)
        o = torch.sigmoid(z_o)  # o_t = sigma(W_io x_t + W_ho h_{t-1} + b_o)
        c = f * c + i * g  # c_t = f_t * c_{t-1} + i_t * g_t
        h = o * torch.tanh(c)  # h_t = o_t * tanh(c_t)
        return (h, c), {"input": i, "forget": f, "candidate": g, "output": o}

    def forward(self, x: torch.Tensor, state: State) -> State:
        new_state, _ = self.step(x, state)
        return new_state


class LSTM(nn.Module):
    """A loop of :class:`LSTMCell` over time. ``forward(x, state=None) -> (out, (h, c))``.

    ``x`` is (B, T, C); ``out`` holds every ``h_t``, (B, T, H); ``h`` and ``c`` are (B, H).
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.cell = LSTMCell(input_size, hidden_size)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        out, state, _ = self.forward_with_gates(x, state)
        return out, state

    def forward_with_gates(
        self, x: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State, dict[str, torch.Tensor]]:
        """Like ``forward``, plus every gate and the cell state at every step, each (B, T, H)."""
        _, T, _ = check_sequence(x, self.cell.input_size)
        state = initial_state(x, state, self.cell.hidden_size, pair=True)
        outputs, trace = [], {name: [] for name in (*GATES, "cell")}
        for t in range(T):
            state, gates = self.cell.step(x[:, t], state)
            outputs.append(state[0])
            for name, value in gates.items():
                trace[name].append(value)
            trace["cell"].append(state[1])
        gates = {name: torch.stack(values, dim=1) for name, values in trace.items()}
        return torch.stack(outputs, dim=1), state, gates

