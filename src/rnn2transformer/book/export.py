"""The book's trained models in the reader's browser: ONNX export and what the page needs.

The web edition lets a reader type into chapter 4's character LSTM, chapter 7's character
Transformer, chapter 9's three models side by side and chapter 11's DeltaNet, run by
onnxruntime-web in the page itself (``book/_static/live/``). This module writes what those
widgets load, during the book's build:

* :class:`LSTMStep`: the LSTM as one step, ``(x_t, h, c) -> (logits, h', c', gates)``, so the
  page can loop over the reader's characters and show every gate as it goes;
* :class:`TransformerWithAttention`: the Transformer over a whole window, returning every
  head's attention weights too;
* :class:`LinearRNNStep`: chapter 10's minGRU language model as one step,
  ``(x_t, state) -> (logits, state')``, its state one vector per layer;
* :class:`DeltaNetStep`: chapter 11's DeltaNet stack (multi-query associative recall) as one
  step, ``(x_t, conv, state) -> (logits, conv', state')``, every layer's short convolution and
  matrix state in and out, so the page can draw each layer's memory token by token; its text
  form is :class:`RecallText` (``"A 7 B 3 ? A"``);
* :func:`export_onnx`: ``torch.onnx.export`` with the dynamo exporter, one self-contained file
  (``external_data=False``) whose batch and length stay free;
* :func:`write_live_model`: the ``.onnx`` file and a JSON file beside it with the alphabet, the
  sizes, a default text, and the outputs PyTorch computed for it (the page's fallback when the
  runtime cannot load, and the golden values the site tests compare the browser with). Before
  writing, it checks that onnxruntime reproduces PyTorch within ``PARITY_TOLERANCE``.

``onnx``, ``onnxscript`` and ``onnxruntime`` are build and test requirements, not the package's
runtime dependencies: they are imported only here, and only when a function needs them. A
reader in Colab or Binder never calls this module (the chapters skip it outside the build).
"""

from __future__ import annotations

import contextlib
import copy
import html
import io
import json
import logging
import re
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._checks import check_int
from ..models.hybrid import HybridModel
from ..models.linear_rnn import LinearRNNModel
from ..models.lstm import GATES, LSTM
from ..models.matrix_state import DeltaNet
from ..models.recurrent import RecurrentModel, copy_weights
from ..models.transformer import TransformerModel
from ..settings import live_dir
from ..tokenizers import CharTokenizer

PARITY_TOLERANCE = 1e-5
MAX_FILE_BYTES = 1_000_000  # each model file stays under 1 MB, so a page stays light
OPSET = 20


class LSTMStep(nn.Module):
    """One step of a character LSTM (:class:`~rnn2transformer.models.recurrent.RecurrentModel`,
    ``kind="lstm"``, token ids in, ``readout="all"``).

    ``forward(x, h, c)`` with ``x`` (B,) ids and ``h``, ``c`` (B, H) returns ``logits``
    (B, V), the new ``h`` and ``c``, and ``gates`` (B, 4, H) in the order input, forget,
    candidate, output. The step is the scratch
    :class:`~rnn2transformer.models.lstm.LSTMCell`'s, with the trained model's weights copied
    in, so it is the chapter's equations line by line.
    """

    def __init__(self, model: RecurrentModel) -> None:
        super().__init__()
        if not isinstance(model, RecurrentModel):
            raise TypeError(f"model must be a RecurrentModel, got {type(model).__name__}")
        c = model.config
        if c.kind != "lstm" or c.vocab_size is None or c.readout != "all":
            raise ValueError("LSTMStep needs an LSTM language model (kind='lstm', vocab_size "
                             f"set, readout='all'), got kind={c.kind!r}, "
                             f"vocab_size={c.vocab_size}, readout={c.readout!r}")
        self.hidden_size = c.hidden_size
        self.embed, self.head = model.embed, model.head
        self.rnn = LSTM(c.input_size, c.hidden_size)
        copy_weights(model.rnn, self.rnn)
        self.rnn.to(next(model.parameters()).device)

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        (h, c), gates = self.rnn.cell.step(self.embed(x), (h, c))
        return self.head(h), h, c, torch.stack([gates[name] for name in GATES], dim=1)


class TransformerWithAttention(nn.Module):
    """A causal character Transformer over a window: ``forward(x)`` with ``x`` (B, T) ids
    returns ``logits`` (B, T, V) and ``attention`` (B, L, H, T, T), every block's weights."""

    def __init__(self, model: TransformerModel) -> None:
        super().__init__()
        if not isinstance(model, TransformerModel):
            raise TypeError(f"model must be a TransformerModel, got {type(model).__name__}")
        c = model.config
        if not c.causal or c.vocab_size is None or c.readout != "all":
            raise ValueError("TransformerWithAttention needs a causal language model (causal="
                             f"True, vocab_size set, readout='all'), got causal={c.causal}, "
                             f"vocab_size={c.vocab_size}, readout={c.readout!r}")
        self.model = model

    def forward(self, x: torch.Tensor):
        h, weights = self.model.encode(x, need_weights=True)
        return self.model.head(h), torch.stack(weights, dim=1)


def export_onnx(
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    path: str | Path,
    *,
    input_names: list[str],
    output_names: list[str],
    dynamic: dict[str, dict[int, str]],
    max_length: int | None = None,
) -> Path:
    """Export ``module`` to one ONNX file at ``path`` with the dynamo exporter.

    ``example``: inputs with a batch of at least 2 (a batch of 1 would be specialised into
    the graph). ``dynamic``: for each input name, which dimensions stay free and their names
    (``"batch"``, ``"length"``); ``max_length`` bounds a ``"length"`` dimension (learned
    positions stop at ``max_len``). The exporter's progress log is kept out of the book's.
    """
    if len(example) != len(input_names):
        raise ValueError(f"{len(input_names)} input names for {len(example)} example inputs")
    if any(t.shape[0] < 2 for t in example):
        raise ValueError("the example batch must hold at least 2 rows, so the batch stays free; "
                         f"got shapes {[tuple(t.shape) for t in example]}")
    dims = {"batch": torch.export.Dim("batch", min=1, max=4096),
            "length": torch.export.Dim("length", min=1, max=max_length or 4096)}
    shapes = tuple({axis: dims[label] for axis, label in dynamic.get(name, {}).items()}
                   for name in input_names)
    path = Path(path)
    module = module.eval().cpu()
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), \
                torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, tuple(t.cpu() for t in example), path, dynamo=True,
                              external_data=False, opset_version=OPSET,
                              input_names=input_names, output_names=output_names,
                              dynamic_shapes=shapes, verbose=False)
    finally:
        quiet.setLevel(level)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path.name} is {size:,} bytes; the web edition's models stay under "
                         f"{MAX_FILE_BYTES:,}")
    return path


def onnx_session(path: str | Path):
    """An onnxruntime session for ``path`` on the CPU, single-threaded as in the page."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_outputs(session, inputs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Run an onnxruntime ``session`` on named tensors; the outputs by name."""
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {k: v.detach().cpu().numpy() for k, v in inputs.items()})
    return dict(zip(names, values, strict=True))


def max_difference(reference: dict[str, torch.Tensor], got: dict[str, np.ndarray]) -> dict:
    """Largest absolute difference per output between PyTorch's and onnxruntime's."""
    return {name: float(np.abs(got[name] - value.detach().cpu().numpy()).max())
            for name, value in reference.items()}


def _check_parity(reference: dict[str, torch.Tensor], got: dict[str, np.ndarray]) -> dict:
    # PARITY_TOLERANCE is absolute for outputs of size up to 1 (probabilities, gates, states,
    # attention weights) and relative beyond: a trained model's logits reach tens, and two
    # float32 libraries that sum in different orders differ in proportion to the values.
    gaps = max_difference(reference, got)
    scale = {name: max(1.0, float(value.detach().abs().max())) for name, value in reference.items()}
    worse = {name: gap for name, gap in gaps.items()
             if not gap <= PARITY_TOLERANCE * scale[name]}
    if worse:
        raise AssertionError(f"onnxruntime differs from PyTorch by more than "
                             f"{PARITY_TOLERANCE} (relative beyond 1): {worse}")
    return gaps


def held_out_passage(text: str, length: int, *, skip: int = 0) -> str:
    """``length`` characters of held-out text for the live widgets' defaults and tests: from
    the first speech that starts 2,000 characters into the corpus's last tenth (the chapters'
    validation part), ``skip`` characters further on. Chapters 4, 7 and 9 use the same one."""
    check_int("length", length, minimum=1)
    check_int("skip", skip, minimum=0)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    passage = text[int(0.9 * len(text)) + 2_000 :]
    if "\n\n" not in passage[:4_000]:
        raise ValueError("text has no speech (a blank line) in the held-out part")
    start = passage.index("\n\n") + 2 + skip
    if start + length > len(passage):
        raise ValueError(f"the held-out part is too short for {length} characters after {skip}")
    return passage[start : start + length]


@torch.no_grad()
def lstm_trace(step: LSTMStep, ids: list[int]) -> dict[str, torch.Tensor]:
    """Run :class:`LSTMStep` over ``ids`` from a zero state: per character the logits (T, V),
    gates (T, 4, H) and cell state (T, H), as the page's loop computes them."""
    device = next(step.parameters()).device
    h = torch.zeros(1, step.hidden_size, device=device)
    c = torch.zeros_like(h)
    logits, gates, cells = [], [], []
    for token in ids:
        out, h, c, g = step(torch.tensor([token], device=device), h, c)
        logits.append(out[0])
        gates.append(g[0])
        cells.append(c[0])
    return {"logits": torch.stack(logits), "gates": torch.stack(gates),
            "cell": torch.stack(cells)}


def _rounded(array, digits: int = 7) -> list:
    return np.round(np.asarray(array, dtype=np.float64), digits).tolist()


def _softmax(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits.double(), dim=-1)


class LinearRNNStep(nn.Module):
    """One step of a :class:`~rnn2transformer.models.linear_rnn.LinearRNNModel` language
    model: ``forward(x, state)`` with ``x`` (B,) ids and ``state`` (B, L, d), one vector per
    layer, returns ``logits`` (B, V) and the new state (B, L, d). The state stacks the layers
    so the page carries one tensor, as it carries the LSTM's ``h`` and ``c``."""

    def __init__(self, model: LinearRNNModel) -> None:
        super().__init__()
        if not isinstance(model, LinearRNNModel) or model.config.readout != "all":
            raise TypeError("LinearRNNStep needs a LinearRNNModel with readout='all', got "
                            f"{type(model).__name__}")
        self.model = model
        self.n_layers, self.d_model = model.config.n_layers, model.config.d_model

    def forward(self, x: torch.Tensor, state: torch.Tensor):
        logits, new_state = self.model.forward_from(x.unsqueeze(1), list(state.unbind(1)))
        return logits[:, 0], torch.stack(new_state, dim=1)


def _export_linear_rnn(model: LinearRNNModel, tokenizer: CharTokenizer, path: Path,
                       info: dict):
    """Write the minGRU model's one step to ``path``, check it in onnxruntime, add its sizes
    and parity to ``info``; return the function that computes the page's outputs for a text."""
    step = LinearRNNStep(model).eval()
    L, d = step.n_layers, step.d_model
    example = (torch.tensor([1, 2]), torch.randn(2, L, d))
    export_onnx(step, example, path, input_names=["x", "state"],
                output_names=["logits", "state_next"],
                dynamic={"x": {0: "batch"}, "state": {0: "batch"}})
    session = onnx_session(path)
    probe = (torch.tensor([3, 5, 7]), torch.randn(3, L, d))
    with torch.no_grad():
        reference = dict(zip(["logits", "state_next"], step(*probe), strict=True))
    info["parity"] = _check_parity(reference, onnx_outputs(
        session, dict(zip(["x", "state"], probe, strict=True))))
    info.update(kind="mingru", n_layers=L, d_model=d)

    def outputs(text: str) -> dict:
        state = torch.zeros(1, L, d)
        with torch.no_grad():
            for i in tokenizer.encode(text):
                logits, state = step(torch.tensor([i]), state)
        return {"text": text, "probs": _rounded(_softmax(logits[0]))}

    return outputs


def _export_lstm(model: RecurrentModel, tokenizer: CharTokenizer, path: Path,
                 units: list[int] | None, info: dict):
    """Write the LSTM's one step to ``path``, check it in onnxruntime, add its sizes and parity
    to ``info``; return the function that computes the page's outputs for a text."""
    step = LSTMStep(model).eval()
    H = step.hidden_size
    units = list(range(min(8, H))) if units is None else [int(u) for u in units]
    if not units or not all(0 <= u < H for u in units):
        raise ValueError(f"units must be hidden units 0..{H - 1}, got {units}")
    example = (torch.tensor([1, 2]), torch.randn(2, H), torch.randn(2, H))
    names = ["x", "h", "c"]
    export_onnx(step, example, path, input_names=names,
                output_names=["logits", "h_next", "c_next", "gates"],
                dynamic={n: {0: "batch"} for n in names})
    session = onnx_session(path)
    probe = (torch.tensor([3, 5, 7]), torch.randn(3, H), torch.randn(3, H))
    reference = dict(zip(["logits", "h_next", "c_next", "gates"], step(*probe), strict=True))
    info["parity"] = _check_parity(reference, onnx_outputs(
        session, dict(zip(names, probe, strict=True))))
    info.update(kind="lstm", hidden_size=H, units=units, gates=list(GATES))

    def outputs(text: str) -> dict:
        trace = lstm_trace(step, tokenizer.encode(text))
        return {"text": text, "probs": _rounded(_softmax(trace["logits"][-1])),
                "gates": _rounded(trace["gates"][:, :, units]),  # (T, 4, units)
                "cell": _rounded(trace["cell"][:, units])}  # (T, units)

    return outputs


def _export_transformer(model: TransformerModel, vocab_size: int, tokenizer: CharTokenizer,
                        path: Path, info: dict):
    """Write the Transformer with its attention weights to ``path``, check it in onnxruntime,
    add its sizes and parity to ``info``; return the function that computes the page's outputs
    for a text."""
    wrapped = TransformerWithAttention(model).eval()
    c = model.config
    max_len = c.max_len  # the window it was built for: the page re-reads no more
    example = (torch.randint(0, vocab_size, (2, 16)),)
    export_onnx(wrapped, example, path, input_names=["x"],
                output_names=["logits", "attention"], dynamic={"x": {0: "batch", 1: "length"}},
                max_length=max_len)
    session = onnx_session(path)
    probe = torch.randint(0, vocab_size, (3, min(40, max_len)),
                          generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = dict(zip(["logits", "attention"], wrapped(probe), strict=True))
    info["parity"] = _check_parity(reference, onnx_outputs(session, {"x": probe}))
    info.update(kind="transformer", n_layers=c.n_layers, n_heads=c.n_heads, max_len=max_len)

    def outputs(text: str) -> dict:
        ids = tokenizer.encode(text)[-max_len:]
        with torch.no_grad():
            logits, attention = wrapped(torch.tensor([ids]))
        return {"text": text, "probs": _rounded(_softmax(logits[0, -1])),
                # every head's weights for the last position: (L, H, T)
                "attention": _rounded(attention[0, :, :, -1, :])}

    return outputs


class RecallText:
    """The text form of multi-query associative recall
    (:func:`~rnn2transformer.synthetic.multi_query_recall`) that the DeltaNet widget reads:
    ``"A 7 B 3 C 9 ? B"``, pairs of a key and a value, then queries.

    Keys (ids ``0 .. vocab_size // 2 - 1``) are named by letters: ``A`` to ``Z`` for the first
    26, then two letters, ``AA`` to ``AZ``, ``BA``, ... (64 keys end at ``BL``); case does not
    matter. Values (the ids above) are numbers: value ``n`` is id ``vocab_size // 2 + n``.
    ``?`` is not a token: it marks the key after it as a query, where the page shows the
    model's answer. Spaces, commas, semicolons, colons and ``=`` separate tokens and are
    otherwise ignored; anything else is refused. ``names`` holds each id's name, so the page
    reads the same mapping from the model's JSON (``"alphabet"``)."""

    _TOKEN = re.compile(r"[A-Za-z]+|[0-9]+|\?|[^\s,;:=]")

    def __init__(self, vocab_size: int = 128) -> None:
        check_int("vocab_size", vocab_size, minimum=4)
        self.vocab_size, self.n_keys = vocab_size, vocab_size // 2
        if self.n_keys > 26 * 27:
            raise ValueError(f"at most {26 * 27} keys have names of one or two letters, got "
                             f"{self.n_keys}")
        letters = [chr(ord("A") + i) for i in range(26)]
        keys = letters + [a + b for a in letters for b in letters]
        self.names = keys[: self.n_keys] + [str(n) for n in range(vocab_size - self.n_keys)]
        self._keys = {name: i for i, name in enumerate(self.names[: self.n_keys])}

    def __len__(self) -> int:
        return self.vocab_size

    def parse(self, text: str) -> tuple[list[int], list[int]]:
        """``text`` -> (ids, the positions of the queries among them)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        ids, queries, asking = [], [], False
        for match in self._TOKEN.finditer(text):
            token = match.group()
            if token == "?":
                if asking:
                    raise ValueError(f"'?' must be followed by a key, got '?' at {match.start()}")
                asking = True
                continue
            if token.isascii() and token.isdigit():  # not "²", which str.isdigit accepts
                if asking or int(token) >= self.vocab_size - self.n_keys:
                    raise ValueError(f"{token!r} at {match.start()}: a value must be a number "
                                     f"from 0 to {self.vocab_size - self.n_keys - 1} and cannot "
                                     "be asked for ('?' goes before a key)")
                ids.append(self.n_keys + int(token))
            elif token.isascii() and token.upper() in self._keys:  # "ß".upper() is "SS"
                queries += [len(ids)] if asking else []
                ids.append(self._keys[token.upper()])
            else:
                raise ValueError(f"{token!r} at {match.start()} is not a key ({self.names[0]} "
                                 f"to {self.names[self.n_keys - 1]}), a value (0 to "
                                 f"{self.vocab_size - self.n_keys - 1}) or '?'")
            asking = False
        if asking or not ids:
            raise ValueError(f"text must hold keys and values, a '?' before a key; got {text!r}")
        return ids, queries

    def encode(self, text: str) -> list[int]:
        """The ids of ``text`` (the ``?`` marks dropped)."""
        return self.parse(text)[0]

    def decode(self, ids: list[int], queries: list[int] | range = ()) -> str:
        """The text of ``ids``, a ``?`` before the positions in ``queries`` (for an MQAR
        sequence of n pairs, ``range(2 * n, len(ids))``)."""
        asked = set(queries)
        if not all(0 <= int(i) < self.vocab_size for i in ids) or not asked <= set(range(len(ids))):
            raise ValueError(f"ids must be in 0..{self.vocab_size - 1} and queries positions "
                             f"among them, got {list(ids)} and {sorted(asked)}")
        return " ".join("?" * (t in asked) + self.names[i] for t, i in enumerate(ids))


def _matrix_layers(model: HybridModel) -> list[tuple[nn.Module, DeltaNet]]:
    """Each block's (convolution, DeltaNet) of an all-DeltaNet ``model``, or a clear error."""
    if not isinstance(model, HybridModel):
        raise TypeError(f"model must be a HybridModel, got {type(model).__name__}")
    c = model.config
    delta = ("deltanet", "deltanet_signed", "gated_deltanet")
    if not all(name in delta for name in c.layers) or not c.short_conv or c.readout != "all":
        raise ValueError(f"DeltaNetStep needs a HybridModel whose every layer is a DeltaNet "
                         f"({delta}) behind a short convolution, readout='all'; got layers="
                         f"{c.layers}, short_conv={c.short_conv}, readout={c.readout!r}")
    if not all(b.norm_first and b.residual for b in model.blocks):
        raise ValueError("DeltaNetStep needs pre-norm blocks with residual connections")
    return [(b.mixer.conv, b.mixer.mixer) for b in model.blocks]


class DeltaNetStep(nn.Module):
    """One token of a :class:`~rnn2transformer.models.hybrid.HybridModel` whose layers are all
    DeltaNet (chapter 11's recall stack): ``forward(x, conv, state)`` with ``x`` (B,) ids,
    ``conv`` (B, L, K - 1, d) every layer's last convolution inputs and ``state``
    (B, L, H, d_v, d_k) every layer's matrix state returns ``logits`` (B, V) and the new
    ``conv`` and ``state``. Per layer it is the chapter's equations written out:

        y = conv(LN(h)),  q, k, v, beta from y,  S <- alpha S,
        S <- S + beta (v - S k) k^T,  h <- h + W_o (S q),  h <- h + FFN(LN(h))

    with the model's own weights (no copy), so it equals ``forward_cached`` token by token."""

    def __init__(self, model: HybridModel) -> None:
        super().__init__()
        layers = _matrix_layers(model)
        self.model = model
        mixer = layers[0][1]
        self.n_layers, self.d_model = len(layers), model.config.d_model
        self.n_heads, self.d_key, self.d_value = mixer.n_heads, mixer.d_key, mixer.d_value
        self.conv_state = layers[0][0].kernel_size - 1

    @staticmethod
    def _delta(layer: DeltaNet, y: torch.Tensor, S: torch.Tensor):
        q, k, v, beta, log_decay = (None if a is None else a[:, :, 0]
                                    for a in layer._arguments(y.unsqueeze(1)))
        if log_decay is not None:  # Gated DeltaNet forgets a little first
            S = log_decay[..., None, None].exp() * S
        stored = (S @ k[..., None]).squeeze(-1)  # what S returns for k: (B, H, d_v)
        S = S + (beta[..., None] * (v - stored))[..., None] * k[..., None, :]  # (B, H, dv, dk)
        o = (S @ q[..., None]).squeeze(-1)  # read with q: (B, H, d_v)
        return layer.out_proj(o.flatten(1)), S

    def forward(self, x: torch.Tensor, conv: torch.Tensor, state: torch.Tensor):
        h, convs, states = self.model.embed(x), [], []
        for i, block in enumerate(self.model.blocks):
            short = block.mixer.conv
            window = torch.cat([conv[:, i], block.norm1(h).unsqueeze(1)], dim=1)  # (B, K, d)
            y = (window * short.weight.T).sum(dim=1)  # the causal depthwise convolution
            out, S = self._delta(block.mixer.mixer, y, state[:, i])
            h = h + out
            h = h + block.feed_forward(block.norm2(h))
            convs.append(window[:, 1:])
            states.append(S)
        logits = self.model.head(self.model.norm(h))
        return logits, torch.stack(convs, dim=1), torch.stack(states, dim=1)

    def zeros(self, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """The states at the start: (conv, state) of zeros."""
        device = next(self.parameters()).device
        return (torch.zeros(batch, self.n_layers, self.conv_state, self.d_model, device=device),
                torch.zeros(batch, self.n_layers, self.n_heads, self.d_value, self.d_key,
                            device=device))


@torch.no_grad()
def deltanet_trace(step: DeltaNetStep, ids: list[int]) -> dict[str, torch.Tensor]:
    """Run :class:`DeltaNetStep` over ``ids`` from zero states, as the page's loop does: per
    token the logits (T, V) and every layer's matrix state (T, L, H, d_v, d_k)."""
    conv, state = step.zeros()
    logits, states = [], []
    for token in ids:
        out, conv, state = step(torch.tensor([token], device=conv.device), conv, state)
        logits.append(out[0])
        states.append(state[0])
    return {"logits": torch.stack(logits), "state": torch.stack(states)}


def _export_deltanet(model: HybridModel, codec: RecallText, path: Path, info: dict):
    """Write the DeltaNet stack's one step to ``path``, check it in onnxruntime, add its sizes
    and parity to ``info``; return the function that computes the page's outputs for a text."""
    step = DeltaNetStep(model).eval()
    names = ["x", "conv", "state"]
    outs = ["logits", "conv_next", "state_next"]

    def example(batch: int, seed: int) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(seed)
        conv, state = step.zeros(batch)
        return (torch.randint(0, len(codec), (batch,), generator=g),
                torch.randn(conv.shape, generator=g), 0.3 * torch.randn(state.shape, generator=g))

    export_onnx(step, example(2, 0), path, input_names=names, output_names=outs,
                dynamic={n: {0: "batch"} for n in names})
    probe = example(3, 1)
    with torch.no_grad():
        reference = dict(zip(outs, step(*probe), strict=True))
    info["parity"] = _check_parity(reference, onnx_outputs(
        onnx_session(path), dict(zip(names, probe, strict=True))))
    info.update(kind="deltanet", n_layers=step.n_layers, n_heads=step.n_heads,
                d_key=step.d_key, d_value=step.d_value, d_model=step.d_model,
                conv_state=step.conv_state, n_keys=codec.n_keys)

    def outputs(text: str) -> dict:
        ids, queries = codec.parse(text)
        trace = deltanet_trace(step, ids)
        return {"text": text, "ids": ids, "queries": queries,
                "probs": _rounded(_softmax(trace["logits"][queries])),  # (Q, V)
                "state": _rounded(trace["state"][-1])}  # after the last token: (L, H, dv, dk)

    return outputs


def write_live_model(
    name: str,
    model: nn.Module,
    tokenizer: CharTokenizer | RecallText,
    *,
    default_text: str,
    test_text: str,
    units: list[int] | None = None,
    directory: str | Path | None = None,
) -> dict | None:
    """Export a character LSTM, Transformer or minGRU model, or chapter 11's DeltaNet recall
    stack, for the web edition: ``name.onnx`` and ``name.json`` in ``directory`` (default
    :func:`live_dir`; None outside the build, and then nothing is written and None returned).

    The JSON holds the alphabet (for the DeltaNet stack, each id's name in its text form,
    ``tokenizer`` a :class:`RecallText`), the sizes, ``default_text`` and PyTorch's outputs for
    it (the page shows them when the runtime cannot load), and the same for ``test_text`` (the
    site tests type it and compare). For an LSTM, ``units`` are the hidden units whose gates the
    page shows; a DeltaNet text needs at least one query (``?``). Returns the JSON's content,
    with the measured parity gaps under ``"parity"``.
    """
    if not isinstance(name, str) or not name.replace("-", "").isalnum():
        raise ValueError(f"name must be letters, digits and '-', got {name!r}")
    kinds = {RecurrentModel: CharTokenizer, TransformerModel: CharTokenizer,
             LinearRNNModel: CharTokenizer, HybridModel: RecallText}
    kind = next((k for k in kinds if isinstance(model, k)), None)
    if kind is None:
        raise TypeError(f"model must be a RecurrentModel, TransformerModel, LinearRNNModel or "
                        f"HybridModel, got {type(model).__name__}")
    if not isinstance(tokenizer, kinds[kind]):
        raise TypeError(f"a {kind.__name__}'s tokenizer must be a {kinds[kind].__name__}, got "
                        f"{type(tokenizer).__name__}")
    if kind is HybridModel and {model.config.vocab_size, model.config.output_size} != {
            len(tokenizer)}:
        raise ValueError(f"the text form has {len(tokenizer)} ids, the model "
                         f"{model.config.vocab_size} in and {model.config.output_size} out")
    for label, text in (("default_text", default_text), ("test_text", test_text)):
        if not isinstance(text, str) or len(text) < 2:
            raise ValueError(f"{label} must be a str of at least 2 characters, got {text!r}")
        tokenizer.encode(text)  # every character (or token) must be one the model reads
        if kind is HybridModel and not tokenizer.parse(text)[1]:
            raise ValueError(f"{label} must ask at least one query ('?' before a key), got "
                             f"{text!r}")
    folder = Path(directory) if directory is not None else live_dir()
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model).cpu().eval()  # the chapter's model stays where it was
    alphabet = tokenizer.names if kind is HybridModel else tokenizer.vocab.itos
    info: dict = {"name": name, "model": f"{name}.onnx", "alphabet": list(alphabet)}
    path = folder / f"{name}.onnx"
    if kind is RecurrentModel:
        outputs = _export_lstm(model, tokenizer, path, units, info)
    elif kind is TransformerModel:
        outputs = _export_transformer(model, len(alphabet), tokenizer, path, info)
    elif kind is LinearRNNModel:
        outputs = _export_linear_rnn(model, tokenizer, path, info)
    else:
        outputs = _export_deltanet(model, tokenizer, path, info)
    info["default"] = outputs(default_text)
    info["golden"] = outputs(test_text)
    info["bytes"] = path.stat().st_size
    (folder / f"{name}.json").write_text(json.dumps(info))
    return info


def per_character_ms(
    lstm_path: str | Path, transformer_path: str | Path, *, hidden_size: int, max_len: int,
    lengths: list[int], repeats: int = 20, mingru_path: str | Path | None = None,
    mingru_state: tuple[int, int] | None = None,
) -> list[dict]:
    """Milliseconds onnxruntime (one thread) takes for the next character's logits once the
    text is ``n`` characters long, for each ``n`` in ``lengths``: the LSTM runs one step on the
    state it carries; the Transformer re-reads its context, the last ``min(n, max_len)``
    characters; the minGRU model, when ``mingru_path`` is given, runs one step on its state of
    ``mingru_state = (layers, width)``. The web edition's side-by-side widget runs the same
    loop in the reader's browser; this measures it where the book was built. Median over
    ``repeats`` runs."""
    for label, value in (("hidden_size", hidden_size), ("max_len", max_len),
                         ("repeats", repeats)):
        check_int(label, value, minimum=1)
    if not lengths or not all(isinstance(n, int) and n >= 1 for n in lengths):
        raise ValueError(f"lengths must be positive ints, got {lengths}")
    if (mingru_path is None) != (mingru_state is None):
        raise ValueError("mingru_path and mingru_state go together: give both or neither")
    lstm, tf = onnx_session(lstm_path), onnx_session(transformer_path)
    mingru = None if mingru_path is None else onnx_session(mingru_path)  # one session, as above
    state = {"x": np.zeros(1, dtype=np.int64), "h": np.zeros((1, hidden_size), np.float32),
             "c": np.zeros((1, hidden_size), np.float32)}

    def median_ms(session, feeds) -> float:
        session.run(None, feeds)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            session.run(None, feeds)
            times.append(time.perf_counter() - start)
        return 1000 * float(np.median(times))

    rows = []
    for n in lengths:
        window = {"x": np.zeros((1, min(n, max_len)), dtype=np.int64)}
        rows.append({"model": "LSTM", "context": n, "ms_per_char": median_ms(lstm, state)})
        rows.append({"model": "Transformer", "context": n,
                     "ms_per_char": median_ms(tf, window)})
        if mingru is not None:
            feeds = {"x": np.zeros(1, dtype=np.int64),
                     "state": np.zeros((1, mingru_state[0], mingru_state[1]), np.float32)}
            rows.append({"model": "minGRU", "context": n,
                         "ms_per_char": median_ms(mingru, feeds)})
    return rows


# --- the widgets' markup --------------------------------------------------------------------
# The page holds a small static form; book/_static/live/<widget>.js brings it to life on first
# use (onnxruntime-web is fetched only then). The PDF and plain Jupyter show the text form.

RUNTIME_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
_STATIC = Path(__file__).resolve().parents[3] / "book" / "_static"  # the repository's book/


def runtime_bytes() -> int | None:
    """Bytes of the onnxruntime-web files a page downloads on first use (None when they have
    not been fetched: ``make book`` fetches them into the checkout's book/_static/live/ort)."""
    files = [_STATIC / "live" / "ort" / name for name in RUNTIME_FILES]
    return sum(f.stat().st_size for f in files) if all(f.exists() for f in files) else None


class LiveWidget:
    """A widget for the web edition: HTML in a page, a one-line note elsewhere (the PDF)."""

    def __init__(self, html: str | None, note: str) -> None:
        self.html, self.note = html, note

    def _repr_html_(self) -> str | None:  # None: Jupyter shows the note instead
        return self.html

    def __repr__(self) -> str:
        return self.note


_WIDGETS = ("lstm", "transformer", "side-by-side", "deltanet")
_NOTE = ("In the web edition of the book this model runs in the page, on the reader's own text "
         "(onnxruntime-web).")
_LABELS = {"deltanet": "Pairs and queries"}


def _controls(widget: str, models: dict[str, str]) -> list[str]:
    """The markup below the text box: each widget's controls and output boxes."""
    if widget == "lstm":
        options = "".join(f'<option value="{v}">{label}</option>' for v, label in [
            ("cell", "cell state (tanh c)"), ("input", "input gate"), ("forget", "forget gate"),
            ("output", "output gate"), ("candidate", "candidate")])
        return [f'<div class="r2t-live-controls"><label for="r2t-lstm-show">Show</label>'
                f'<select id="r2t-lstm-show">{options}</select>'
                f'<button type="button">Sample again</button></div>', *_TEXT_OUTPUTS]
    if widget == "transformer":
        return ['<div class="r2t-live-controls"><label for="r2t-transformer-at">Query '
                'position</label><input type="range" id="r2t-transformer-at" min="1" '
                'max="1" value="1"><span class="r2t-live-position"></span>'
                '<button type="button">Sample again</button></div>', *_TEXT_OUTPUTS]
    if widget == "deltanet":
        return ['<p class="r2t-live-help"></p>',
                '<div class="r2t-live-controls"><button type="button" data-step="-1" '
                'aria-label="previous token">&#9664;</button><label for="r2t-deltanet-at">'
                'Token</label><input type="range" id="r2t-deltanet-at" min="1" max="1" '
                'value="1"><button type="button" data-step="1" aria-label="next token">'
                '&#9654;</button><span class="r2t-live-position"></span>'
                '<label for="r2t-deltanet-show">Show</label><select id="r2t-deltanet-show">'
                '<option value="state">the state S after the token</option>'
                '<option value="change">what the token changed in S</option></select></div>',
                '<div class="r2t-live-tokens"></div>',
                '<div class="r2t-live-heat r2t-live-matrices"></div>',
                '<p><strong>After this token the model predicts</strong></p>'
                '<div class="r2t-live-next"></div>',
                '<p><strong>Answers to the queries</strong></p>'
                '<div class="r2t-live-answers"></div>']
    runners = [("lstm", "LSTM"), ("transformer", "Transformer"), ("mingru", "minGRU")]
    columns = "".join(f'<div><strong>{label}</strong><div class="r2t-live-{key}"></div>'
                      f'</div>' for key, label in runners if key in models)
    return ['<div class="r2t-live-controls"><button type="button">Generate 200 '
            'characters with each model</button></div>',
            f'<div class="r2t-live-side">{columns}</div>', '<div class="r2t-live-chart"></div>']


_TEXT_OUTPUTS = ('<p><strong>Next character</strong></p><div class="r2t-live-next"></div>',
                 '<p><strong>Continuation</strong> (sampled, temperature 0.8)</p>'
                 '<div class="r2t-live-continuation"></div>', '<div class="r2t-live-heat"></div>')


def live_widget(
    widget: str, *, models: dict[str, str], default_text: str, built: dict | None = None
) -> LiveWidget:
    """The markup of one live widget. ``widget``: ``"lstm"``, ``"transformer"``,
    ``"side-by-side"`` or ``"deltanet"``; ``models``: the exported names it loads
    (``{"model": ...}``, or ``{"lstm": ..., "transformer": ...}`` side by side, with
    ``"mingru"`` optional); ``built``: for the side-by-side widget, what the build measured
    (shown when the runtime cannot run). The DeltaNet widget's ``default_text`` is in
    :class:`RecallText`'s form."""
    if widget not in _WIDGETS:
        raise ValueError(f"widget must be one of {_WIDGETS}, got {widget!r}")
    if not isinstance(default_text, str):
        raise TypeError(f"default_text must be a str, got {type(default_text).__name__}")
    needed = {"model"} if widget != "side-by-side" else {"lstm", "transformer"}
    allowed = needed | ({"mingru"} if widget == "side-by-side" else set())
    if not needed <= set(models) <= allowed:
        raise ValueError(f"models for {widget!r} must name {sorted(needed)} (and may name "
                         f"{sorted(allowed - needed)}), got {sorted(models)}")
    size = runtime_bytes()
    first_use = (f" The first use downloads the runtime once (about {size / 1e6:.0f} MB)."
                 if size else "")
    data = " ".join(f'data-{key}="{html.escape(name)}"' for key, name in models.items())
    text_id = f"r2t-{widget}-text"
    parts = [f'<div class="r2t-live" data-widget="{widget}" {data}'
             + (f" data-default='{html.escape(json.dumps(built))}'" if built else "") + ">",
             f'<p class="r2t-live-status" role="status">Click or type to start.{first_use}</p>',
             f'<label for="{text_id}">{_LABELS.get(widget, "Your text")}</label>',
             f'<textarea id="{text_id}" rows="3" spellcheck="false">'
             f"{html.escape(default_text)}</textarea>", *_controls(widget, models),
             "</div>", f'<script type="module" src="../_static/live/{widget}.js"></script>']
    # Outside the build no model files are served, so a live notebook shows the note only.
    return LiveWidget("\n".join(parts) if live_dir() is not None else None, _NOTE)
