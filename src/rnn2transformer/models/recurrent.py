"""Recurrent layers put to work: one task model for the vanilla RNN, the LSTM and the GRU.

The book compares the two recurrent families (and later the Transformer) on the same tasks, so
the parts around the recurrent layer are shared here instead of being written once per family:

* an input: float features (B, T, C), or token ids (B, T) through an embedding;
* a readout: from the last state (``"last"``: one prediction per sequence) or from every state
  (``"all"``: one prediction per step, as a language model or the copy task needs);
* a loss: mean squared error or cross-entropy.

``implementation="torch"`` uses the fused ``torch.nn.RNN``/``LSTM``/``GRU`` (cuDNN on a GPU);
``"scratch"`` uses the package's own loop; :func:`copy_weights` moves weights between them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_int, check_tensor
from .gru import GRU
from .lstm import LSTM
from .rnn import NONLINEARITIES, RNN
from .shared import copy_parameters, evaluating, readout, task_loss

KINDS = ("rnn", "lstm", "gru")
RECURRENT_INITS = ("default", "identity")
_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _recurrent_params(module: nn.Module) -> tuple[str, dict[str, nn.Parameter]]:
    if isinstance(module, RNN | LSTM | GRU):
        return type(module).__name__.lower(), {n: getattr(module.cell, n) for n in _WEIGHTS}
    if isinstance(module, nn.RNN | nn.LSTM | nn.GRU):
        if module.num_layers != 1 or module.bidirectional or not module.bias:
            raise ValueError("only one-layer, one-direction torch recurrent layers with biases")
        if isinstance(module, nn.LSTM) and module.proj_size:
            raise ValueError("an nn.LSTM with proj_size has no scratch counterpart")
        return type(module).__name__.lower(), {n: getattr(module, f"{n}_l0") for n in _WEIGHTS}
    raise TypeError(
        f"expected an RNN, LSTM or GRU, scratch or torch.nn, got {type(module).__name__}"
    )


def copy_weights(source: nn.Module, target: nn.Module) -> None:
    """Copy weights between the scratch and the fused version of the same recurrent layer."""
    source_kind, src = _recurrent_params(source)
    target_kind, dst = _recurrent_params(target)
    if source_kind != target_kind:
        raise TypeError(f"cannot copy {source_kind} weights into an {target_kind}")
    copy_parameters(src, dst)


@dataclass
class RecurrentConfig:
    kind: str = "lstm"  # "rnn" (vanilla), "lstm" or "gru"
    input_size: int = 2  # features per step, or the embedding size when vocab_size is set
    vocab_size: int | None = None  # token ids as input (embedded), or None for float features
    hidden_size: int = 64  # H, the size of the state
    output_size: int = 1  # 1 for regression, number of classes for cross-entropy
    readout: str = "last"  # "last": from h_T; "mean": mean of all h_t; "all": at every step
    loss: str = "mse"  # "mse" or "cross_entropy"
    nonlinearity: str = "tanh"  # vanilla RNN only
    implementation: str = "torch"  # "torch" (fused) or "scratch" (the package's loop)
    # "identity": W_hh = I and zero biases, Le, Jaitly and Hinton's (2015) initialisation for a
    # ReLU RNN (the IRNN); vanilla RNN only
    recurrent_init: str = "default"

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        check_int("input_size", self.input_size, minimum=1)
        if self.vocab_size is not None:
            check_int("vocab_size", self.vocab_size, minimum=2)
        check_int("hidden_size", self.hidden_size, minimum=1)
        check_int("output_size", self.output_size, minimum=1)
        check_choice("readout", self.readout, ("last", "mean", "all"))
        check_choice("loss", self.loss, ("mse", "cross_entropy"))
        check_choice("implementation", self.implementation, ("torch", "scratch"))
        fused = self.implementation == "torch"
        allowed = ("tanh", "relu") if fused else tuple(NONLINEARITIES)
        check_choice("nonlinearity", self.nonlinearity, allowed)
        check_choice("recurrent_init", self.recurrent_init, RECURRENT_INITS)
        if self.recurrent_init == "identity" and self.kind != "rnn":
            raise ValueError(f"recurrent_init='identity' is for kind='rnn' (the IRNN), got "
                             f"kind={self.kind!r}")


class RecurrentModel(nn.Module):
    """Embedding (optional) -> RNN or LSTM -> linear readout. ``forward(x, targets)``.

    Returns ``(out, loss)``: ``out`` is (B,) or (B, output_size) for ``readout="last"`` or
    ``"mean"`` and (B, T, output_size) for ``"all"``; cross-entropy targets are class ids of
    matching shape.
    """

    def __init__(self, config: RecurrentConfig) -> None:
        super().__init__()
        if not isinstance(config, RecurrentConfig):
            raise TypeError(f"config must be a RecurrentConfig, got {type(config).__name__}")
        self.config = config
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.input_size) if c.vocab_size else None
        if c.implementation == "torch":
            if c.kind == "rnn":
                self.rnn = nn.RNN(c.input_size, c.hidden_size, nonlinearity=c.nonlinearity,
                                  batch_first=True)
            else:
                fused = nn.LSTM if c.kind == "lstm" else nn.GRU
                self.rnn = fused(c.input_size, c.hidden_size, batch_first=True)
        elif c.kind == "rnn":
            self.rnn = RNN(c.input_size, c.hidden_size, c.nonlinearity)
        else:
            self.rnn = (LSTM if c.kind == "lstm" else GRU)(c.input_size, c.hidden_size)
        if c.recurrent_init == "identity":  # the IRNN: the state is copied until inputs arrive
            weights = _recurrent_params(self.rnn)[1]
            with torch.no_grad():
                weights["weight_hh"].copy_(torch.eye(c.hidden_size))
                weights["bias_ih"].zero_()
                weights["bias_hh"].zero_()
        self.head = nn.Linear(c.hidden_size, c.output_size)

    @property
    def weight_hh(self) -> nn.Parameter:
        """The recurrent matrix (all four gates' for an LSTM)."""
        return _recurrent_params(self.rnn)[1]["weight_hh"]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The recurrent layer's input: embedded ids or the float features themselves."""
        if self.embed is not None:
            check_tensor("x", x, ndim=2, dtype_kind="int")
            return self.embed(x)  # (B, T, C)
        check_tensor("x", x, ndim=3, dtype_kind="float")
        return x

    @torch.no_grad()
    def forward_cached(
        self, x: torch.Tensor, state: object = None
    ) -> tuple[torch.Tensor, object]:
        """Outputs for new steps ``x`` continuing from ``state`` (None at the start); returns
        the outputs and the new state. The state has the same size however long the past."""
        return self.forward_from(x, state)

    def forward_from(self, x: torch.Tensor, state: object = None) -> tuple[torch.Tensor, object]:
        """:meth:`forward_cached` with gradients: the outputs for ``x`` starting from ``state``
        (None: zeros) and the state after the last step."""
        if self.config.readout != "all":
            raise ValueError("forward_from needs readout='all'")
        fused = isinstance(self.rnn, nn.RNN | nn.LSTM | nn.GRU)
        if fused and state is not None:  # torch keeps a layer dimension in its state
            state = (tuple(s.unsqueeze(0) for s in state) if isinstance(state, tuple)
                     else state.unsqueeze(0))
        states, state = self.rnn(self.features(x), state)
        if fused:
            state = tuple(s[0] for s in state) if isinstance(state, tuple) else state[0]
        return self.head(states), state

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        states, _ = self.rnn(self.features(x))  # (B, T, H)
        return readout(states, self.head, targets, self.config)


def _detached(state: object) -> object:
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class CarryState(nn.Module):
    """Truncated back-propagation through time with the state carried across windows.

    Wraps a :class:`RecurrentModel` with ``readout="all"``. In training, each call starts from
    the state the previous call ended in, *detached*: the forward pass sees the whole stream,
    the gradient stops at the window's edge. Use it with consecutive windows
    (:func:`rnn2transformer.corpus.char_lm_stream`). In evaluation every call starts from
    zeros, like the unwrapped model. ``forward(x, targets) -> (logits, loss)``.
    """

    def __init__(self, model: RecurrentModel) -> None:
        super().__init__()
        if not isinstance(model, RecurrentModel) or model.config.readout != "all":
            raise TypeError("CarryState wraps a RecurrentModel with readout='all', got "
                            f"{type(model).__name__}")
        self.model = model
        self.state: object = None

    def reset(self) -> None:
        self.state = None

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.training:
            if self.state is not None:
                first = self.state[0] if isinstance(self.state, tuple) else self.state
                if first.shape[0] != x.shape[0]:  # another batch size: start afresh
                    self.state = None
            out, state = self.model.forward_from(x, self.state)
            self.state = _detached(state)
        else:
            out, _ = self.model.forward_from(x)
        if targets is None:
            return out, None
        return out, task_loss(out, targets, self.model.config.loss)


@torch.no_grad()
def stream_loss(model: RecurrentModel, ids: torch.Tensor, *, window: int, streams: int = 16,
                carry: bool = True, burn_in: int = 0, score_from: int = 0) -> float:
    """Mean next-token cross-entropy (nats) of a recurrent language model reading ``ids`` as
    ``streams`` contiguous streams, ``window`` tokens at a time: with the state carried from
    window to window (``carry=True``), or from zeros at every window (``False``).

    ``burn_in`` (with ``carry=False``): before each window, read the ``burn_in`` tokens before
    it, unscored, from zeros, and start the window from that state; a stream's first windows
    get what there is. The difference between the stream and a burn-in of k tokens is what
    context from more than k tokens back is worth. ``score_from``: score only from the
    ``score_from``-th window of each stream on (the earlier ones are still read when the state
    is carried), so that every setting scores the same tokens."""
    if not isinstance(model, RecurrentModel):
        raise TypeError(f"model must be a RecurrentModel, got {type(model).__name__}")
    check_int("window", window, minimum=1)
    check_int("streams", streams, minimum=1)
    check_int("burn_in", burn_in, minimum=0)
    check_int("score_from", score_from, minimum=0)
    if burn_in and carry:
        raise ValueError("burn_in is for windows read from zeros (carry=False)")
    per_stream = (len(ids) - 1) // streams
    if per_stream < window * (score_from + 1):
        raise ValueError(f"ids hold {len(ids)} tokens: too few for {streams} streams of "
                         f"{score_from + 1} windows of {window}")
    device = next(model.parameters()).device
    with evaluating(model):
        starts = torch.arange(streams) * per_stream
        total, count, state = 0.0, 0, None
        for k in range(per_stream // window):
            index = (starts + k * window).unsqueeze(1) + torch.arange(window)
            x, y = ids[index].to(device), ids[index + 1].to(device)
            start = state if carry else None
            if burn_in and k:  # the tokens just before this window, from zeros, unscored
                b = min(burn_in, k * window)
                before = (starts + k * window - b).unsqueeze(1) + torch.arange(b)
                _, start = model.forward_from(ids[before].to(device))
            logits, state = model.forward_from(x, start)
            if k >= score_from:
                total += float(F.cross_entropy(logits.float().transpose(1, 2), y,
                                               reduction="sum"))
                count += y.numel()
    return total / count


def input_gradient_by_step(
    model: nn.Module, x: torch.Tensor, targets: torch.Tensor
) -> pd.DataFrame:
    """Mean ``||dL/dx_t||`` over the batch for every step ``t``: how much each input still
    influences the loss. Works for any model with ``forward(x, targets) -> (out, loss)`` whose
    input is float features (B, T, C).

    The probe runs on a float64 copy of the model: after a hundred steps a vanished gradient is
    around 1e-30 and would underflow to exactly 0 in float32, hiding how small it is.
    """
    check_tensor("x", x, ndim=3, dtype_kind="float")
    probe = copy.deepcopy(model).to(torch.float64).eval()
    x = x.detach().to(torch.float64).requires_grad_(True)
    if targets.is_floating_point():
        targets = targets.to(torch.float64)
    with torch.backends.cudnn.flags(enabled=False):  # cuDNN RNNs only backprop in train mode
        _, loss = probe(x, targets)
        (grad,) = torch.autograd.grad(loss, x)
    norms = grad.norm(dim=-1).mean(dim=0)  # (T,)
    T = x.shape[1]
    return pd.DataFrame({"t": range(T), "distance": [T - 1 - t for t in range(T)],
                         "grad_norm": norms.detach().cpu().numpy()})

