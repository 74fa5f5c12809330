"""Many small recurrent models trained as one: a learning-rate sweep in one fused layer.

A sweep of small runs is a Python loop of tiny training steps, and on a GPU a tiny step is
bound by kernel launches, not arithmetic (see ``docs/design.md``). :class:`RecurrentEnsemble`
runs E :class:`~rnn2transformer.models.recurrent.RecurrentModel` s of one configuration as one
fused ``nn.RNN``/``LSTM``/``GRU`` of E x H units whose recurrent matrix is block-diagonal: unit
groups that never see each other's state. Each step is then one fused call instead of E.

The members keep their own parameters. The fused layer's weights are assembled from them at
every forward pass (the zero blocks are constants, so no gradient reaches them), which means:

* each member's gradient is exactly its own loss's gradient, and :func:`~rnn2transformer.train`
  gives each member its own optimizer state, learning rate and gradient clipping;
* after training, the member models *are* the trained models: read, evaluate or save them as
  if they had been trained one by one.

The price is arithmetic: the block-diagonal product does E times the multiply-adds of E
separate layers. Whether that pays depends on the device (``make bench`` measures it).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from ..training import Ensemble, task_loss
from .recurrent import RecurrentConfig, RecurrentModel

# Rows of the fused weight matrices per unit: nn.RNN has one gate, nn.GRU three, nn.LSTM four.
_GATES = {"rnn": 1, "gru": 3, "lstm": 4}


class RecurrentEnsemble(Ensemble):
    """E recurrent task models of one configuration, run as one fused layer.

    ``forward(x, targets) -> (out, losses)``: ``out`` is each member's output stacked along a
    first dimension of size E, ``losses`` each member's loss, (E,). Every member reads the same
    batch (a sweep over learning rates or other training settings); give the members different
    initial weights by seeding them differently.
    """

    def __init__(self, members: list[RecurrentModel]) -> None:
        super().__init__()
        if not isinstance(members, list | tuple | nn.ModuleList):
            raise TypeError("members must be a list of RecurrentModel, got "
                            f"{type(members).__name__}")
        members = list(members)
        if not members:
            raise ValueError("members must hold at least one RecurrentModel, got none")
        for i, m in enumerate(members):
            if not isinstance(m, RecurrentModel):
                raise TypeError(f"members[{i}] must be a RecurrentModel, got {type(m).__name__}")
        config = members[0].config
        for i, m in enumerate(members[1:], start=1):
            if m.config != config:
                raise ValueError(f"every member needs the same RecurrentConfig: members[0] has "
                                 f"{config}, members[{i}] has {m.config}")
        if config.implementation != "torch":
            raise ValueError("an ensemble runs the fused layer: members need "
                             f"implementation='torch', got {config.implementation!r}")
        self.members = nn.ModuleList(members)
        self.config: RecurrentConfig = config
        # The fused recurrence nn.RNN/LSTM/GRU call (cuDNN on a GPU, oneDNN on the CPU), called
        # directly with the assembled weights: an nn.LSTM module would, on CUDA, try to
        # re-pack weights it does not own into its own buffer in place.
        kind = config.kind if config.kind != "rnn" else f"rnn_{config.nonlinearity}"
        self._recurrence = getattr(torch, kind)

    def _stacked(self, name: str) -> torch.Tensor:
        return torch.stack([getattr(m.rnn, f"{name}_l0") for m in self.members])

    def fused_weights(self) -> list[torch.Tensor]:
        """The fused layer's weights, assembled from the members' own.

        The fused state is the members' states side by side, member by member; the fused
        layer's rows are gate by gate (as torch orders them), and within a gate member by
        member. The recurrent matrix is block-diagonal: member e's state feeds only member e's
        gates. With embeddings each member reads its own embedded input, so the input matrix
        is block-diagonal too; with float features all members read the same input.
        """
        n, gates, h = len(self.members), _GATES[self.config.kind], self.config.hidden_size
        eye = torch.eye(n, dtype=self.members[0].head.weight.dtype,
                        device=self.members[0].head.weight.device)

        def gate_major(w: torch.Tensor) -> torch.Tensor:  # (E, G*H, ...) -> (G*E*H, ...)
            return w.view(n, gates, h, *w.shape[2:]).transpose(0, 1).reshape(
                gates * n * h, *w.shape[2:])

        def block_diagonal(w: torch.Tensor) -> torch.Tensor:  # (E, G*H, K) -> (G*E*H, E*K)
            k = w.shape[-1]
            blocks = torch.einsum("egik,ef->geifk", w.view(n, gates, h, k), eye)
            return blocks.reshape(gates * n * h, n * k)

        w_ih = self._stacked("weight_ih")
        return [  # in torch's order: weight_ih, weight_hh, bias_ih, bias_hh
            block_diagonal(w_ih) if self.config.vocab_size else gate_major(w_ih),
            block_diagonal(self._stacked("weight_hh")),
            gate_major(self._stacked("bias_ih")),
            gate_major(self._stacked("bias_hh")),
        ]

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        c, n = self.config, len(self.members)
        if c.vocab_size:  # each member embeds the ids itself: (B, T, E * C)
            inputs = torch.cat([m.features(x) for m in self.members], dim=-1)
        else:
            inputs = self.members[0].features(x)  # checks x; the members share it
        zeros = inputs.new_zeros(1, inputs.shape[0], n * c.hidden_size)  # (layers, B, E*H)
        with warnings.catch_warnings():
            # cuDNN asks for weights in one contiguous buffer; these are assembled anew at
            # every call, so it compacts them itself (one copy, which is all it warns about).
            warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
            states = self._recurrence(inputs, [zeros, zeros] if c.kind == "lstm" else zeros,
                                      self.fused_weights(), True, 1, 0.0, self.training,
                                      False, True)[0]  # biases, 1 layer, no dropout, batch-first
        states = states.unflatten(-1, (n, c.hidden_size))  # (B, T, E, H)
        if c.readout == "last":
            states = states[:, -1]  # (B, E, H)
        elif c.readout == "mean":
            states = states.mean(dim=1)
        head_w = torch.stack([m.head.weight for m in self.members])  # (E, O, H)
        head_b = torch.stack([m.head.bias for m in self.members])  # (E, O)
        out = torch.einsum("...eh,eoh->e...o", states, head_w)
        out = out + head_b.view(n, *([1] * (out.dim() - 2)), -1)  # (E, B, [T,] O)
        if c.output_size == 1 and c.loss == "mse":
            out = out.squeeze(-1)
        if targets is None:
            return out, None
        # each member's own loss, computed as a member trained alone computes it
        return out, torch.stack([task_loss(o, targets, c.loss) for o in out])
