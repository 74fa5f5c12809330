"""The gated recurrent unit, written out (chapter 4).

Cho et al. (2014) proposed the GRU with the encoder-decoder: two gates instead of the LSTM's
three, and no separate cell state. In the book's notation and PyTorch's gate order (r, z, n):

    r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
    z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))   candidate
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                        new state

The update gate interpolates between the old state and the candidate, so along that path
``dh_t/dh_{t-1}`` contains ``diag(z_t)``: the LSTM's additive memory with the forget and input
gates tied (``f = z``, ``i = 1 - z``). The reset gate decides how much of the old state the
candidate reads.

``GRUCell``/``GRU`` are the teaching versions (a Python loop); their parameters have the names
and shapes of ``torch.nn.GRU``'s, so :func:`rnn2transformer.models.recurrent.copy_weights`
moves weights either way.
"""

from __future__ import annotations

import torch
from torch import nn

from .rnn import RecurrentWeights, check_sequence, initial_state

GATES = ("reset", "update", "candidate")


class GRUCell(RecurrentWeights):
    """One GRU step: ``(x_t, h_{t-1}) -> h_t`` and the gate values.

    The three blocks are stacked in the order r, z, n, as torch.nn.GRU stores them.
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size, blocks=3)

    def step(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, dict]:
        from_x = x @ self.weight_ih.T + self.bias_ih  # (B, 3H)
        from_h = h @ self.weight_hh.T + self.bias_hh  # (B, 3H)
        x_r, x_z, x_n = from_x.chunk(3, dim=-1)
        h_r, h_z, h_n = from_h.chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)  # r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z = torch.sigmoid(x_z + h_z)  # z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n = torch.tanh(x_n + r * h_n)  # n_t = tanh(W_in x_t + b_in + r_t * (W_hn h + b_hn))
        h = (1 - z) * n + z * h  # h_t = (1 - z_t) * n_t + z_t * h_{t-1}
        return h, {"reset": r, "update": z, "candidate": n}

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return self.step(x, state)[0]


class GRU(nn.Module):
    """A loop of :class:`GRUCell` over time. ``forward(x, state=None) -> (out, h_T)``.

    ``x`` is (B, T, C); ``out`` holds every ``h_t``, (B, T, H); ``state`` and ``h_T`` are (B, H).
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.cell = GRUCell(input_size, hidden_size)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        out, h, _ = self.forward_with_gates(x, state)
        return out, h

    def forward_with_gates(self, x: torch.Tensor, state: torch.Tensor | None = None
                           ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Like ``forward``, plus every gate at every step, each (B, T, H)."""
        _, T, _ = check_sequence(x, self.cell.input_size)
        h = initial_state(x, state, self.cell.hidden_size)
        outputs, trace = [], {name: [] for name in GATES}
        for t in range(T):
            h, gates = self.cell.step(x[:, t], h)
            outputs.append(h)
            for name, value in gates.items():
                trace[name].append(value)
        return (torch.stack(outputs, dim=1), h,
                {name: torch.stack(values, dim=1) for name, values in trace.items()})
