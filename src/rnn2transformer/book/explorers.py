"""Live explorers: ipywidgets that recompute with torch when a control moves.

They need a running kernel (Colab, Binder, local Jupyter). The static site shows the same
experiments as Vega-Lite sliders over precomputed grids instead.

Each explorer is an :class:`Explorer`: a dict of ``controls``, a ``compute(**values)`` that runs
the real experiment and returns a table (kept in ``result``), a one-line ``summary`` and a chart.
Moving a control recomputes all three. ``live=False`` builds no widgets, for the chapters'
exercise answers, which call ``compute`` in the book's build (widgets created there would put
their state into the static page).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from ..device import get_device
from ..models.attention import attention
from ..models.lstm import LSTM
from ..models.mlp import ACTIVATIONS, INITS, MLP, MLPConfig, gradient_by_layer
from ..models.rnn import NONLINEARITIES, RNN, gradient_probe, spectral_matrix
from ..models.transformer import TransformerConfig, TransformerModel
from ..synthetic import make_spirals


class Explorer:
    """Controls -> real computation -> table, summary line and chart."""

    def __init__(self, *, live: bool = True) -> None:
        self.result: pd.DataFrame | None = None
        self.summary = ""
        if not live:  # the computation alone: no widgets exist, so a built page carries none
            return
        self.controls = self.make_controls()
        self.output = widgets.Output()
        for control in self.controls.values():
            control.observe(self._update, names="value")
        self.widget = widgets.VBox([widgets.HBox(list(self.controls.values())), self.output])
        self._update()

    def make_controls(self) -> dict[str, widgets.ValueWidget]:
        raise NotImplementedError

    def compute(self, **values: object) -> pd.DataFrame:
        raise NotImplementedError

    def summarize(self, result: pd.DataFrame) -> str:
        raise NotImplementedError

    def chart(self):
        raise NotImplementedError

    def _update(self, change: object = None) -> None:
        values = {name: control.value for name, control in self.controls.items()}
        self.result = self.compute(**values)
        self.summary = self.summarize(self.result)
        with self.output:
            self.output.clear_output(wait=True)
            print(self.summary)
            display(self.chart())

    def _ipython_display_(self) -> None:
        display(self.widget)


class GradientExplorer(Explorer):
    """Depth, activation and initialisation of an MLP -> back-propagated gradient per layer."""

    def __init__(self, *, width: int = 64, n_examples: int = 256, seed: int = 0,
                 live: bool = True) -> None:
        self.width, self.seed = width, seed
        self.x, self.y = make_spirals(n_examples // 2, seed=seed)
        super().__init__(live=live)

    def make_controls(self) -> dict[str, widgets.ValueWidget]:
        return {
            "depth": widgets.IntSlider(value=10, min=2, max=30, description="depth"),
            "activation": widgets.Dropdown(
                options=list(ACTIVATIONS), value="sigmoid", description="activation"
            ),
            "init": widgets.Dropdown(options=list(INITS), value="default", description="init"),
        }

    def compute(self, depth: int, activation: str, init: str) -> pd.DataFrame:
        torch.manual_seed(self.seed)
        config = MLPConfig(hidden_size=self.width, n_layers=depth, activation=activation, init=init)
        return gradient_by_layer(MLP(config), self.x, self.y)

    def summarize(self, result: pd.DataFrame) -> str:
        first, last = result["delta_norm"].iloc[[0, -1]]
        return f"||dL/dz|| in layer 1 / in layer {len(result)}: {first / last:.3g}"

    def chart(self):
        import altair as alt

        return (
            alt.Chart(self.result)
            .mark_line(point=True)
            .encode(
                x=alt.X("layer:Q", title="layer (1 = input side)"),
                y=alt.Y("delta_norm:Q", scale=alt.Scale(type="log"),
                        title="mean ||dL/dz|| (log scale)"),
            )
            .properties(width=420, height=240)
        )


class RecurrentGradientExplorer(Explorer):
    """Spectral radius, nonlinearity and hidden size of an RNN -> ||dh_T/dh_t|| by distance.

    Every change builds ``W_hh = lambda Q`` and reruns
    :func:`~rnn2transformer.models.rnn.gradient_probe`.
    """

    def __init__(self, *, length: int = 60, seed: int = 0, live: bool = True) -> None:
        self.length, self.seed = length, seed
        super().__init__(live=live)

    def make_controls(self) -> dict[str, widgets.ValueWidget]:
        return {
            "spectral_radius": widgets.FloatSlider(value=1.0, min=0.1, max=2.0, step=0.05,
                                                   description="lambda"),
            "nonlinearity": widgets.Dropdown(options=list(NONLINEARITIES), value="tanh",
                                             description="f"),
            "hidden_size": widgets.IntSlider(value=32, min=2, max=256, description="hidden"),
        }

    def compute(self, spectral_radius: float, nonlinearity: str, hidden_size: int):
        torch.manual_seed(self.seed)
        layer = RNN(1, hidden_size, nonlinearity)
        with torch.no_grad():
            layer.cell.weight_hh.copy_(
                spectral_matrix(hidden_size, spectral_radius, seed=self.seed)
            )
        x = torch.randn(1, self.length, 1, generator=torch.Generator().manual_seed(self.seed))
        table = gradient_probe(layer, x)
        return table.assign(exact_linear=spectral_radius ** table["distance"])

    def summarize(self, result: pd.DataFrame) -> str:
        far = result.iloc[0]
        return (f"||dh_T/dh_t|| at distance {int(far['distance'])}: "
                f"{far['jacobian_norm']:.3g} (lambda^k = {far['exact_linear']:.3g})")

    def chart(self):
        import altair as alt

        long = self.result.melt("distance", ["jacobian_norm", "exact_linear"],
                                var_name="curve", value_name="norm")
        return (
            alt.Chart(long[long["norm"] > 0])
            .mark_line()
            .encode(x="distance:Q", y=alt.Y("norm:Q", scale=alt.Scale(type="log")),
                    color="curve:N", strokeDash="curve:N")
            .properties(width=420, height=240)
        )


class ForgetGateExplorer(Explorer):
    """An LSTM reads the reader's text: the forget gate's bias -> gates and memory per step.

    The cell state's gradient along its own path is the product of forget gates,
    ``dc_T/dc_t = prod f`` (elementwise): the explorer shows how a bias of 1 or more, the
    initialisation Gers et al. and Jozefowicz et al. recommend, keeps that product near 1.
    """

    def __init__(self, *, hidden_size: int = 16, seed: int = 0, live: bool = True) -> None:
        self.hidden_size, self.seed = hidden_size, seed
        super().__init__(live=live)

    def make_controls(self) -> dict[str, widgets.ValueWidget]:
        return {
            "text": widgets.Text(value="to be or not to be", description="text"),
            "forget_bias": widgets.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.25,
                                               description="forget bias"),
        }

    def compute(self, text: str, forget_bias: float) -> pd.DataFrame:
        text = text or " "
        torch.manual_seed(self.seed)
        layer = LSTM(8, self.hidden_size)
        H = self.hidden_size
        with torch.no_grad():  # gate order i, f, g, o: the forget rows are H..2H
            layer.cell.bias_ih[H : 2 * H] = forget_bias
            layer.cell.bias_hh[H : 2 * H] = 0.0
        g = torch.Generator().manual_seed(self.seed)
        codes = torch.randn(256, 8, generator=g)  # a fixed random vector per character
        x = codes[torch.tensor([min(ord(ch), 255) for ch in text])].unsqueeze(0)
        with torch.no_grad():
            _, _, gates = layer.forward_with_gates(x)
        forget = gates["forget"][0]  # (T, H)
        # dc_T/dc_t along the cell path: the product of the forget gates after step t
        after = torch.flip(torch.cumprod(torch.flip(forget, [0]), 0), [0])
        memory = torch.cat([after[1:], torch.ones(1, H)]).mean(dim=1)
        return pd.DataFrame({
            "t": range(len(text)), "character": list(text),
            "forget": forget.mean(dim=1).numpy(), "input": gates["input"][0].mean(1).numpy(),
            "output": gates["output"][0].mean(1).numpy(), "dc_T/dc_t": memory.numpy(),
        })

    def summarize(self, result: pd.DataFrame) -> str:
        return (f"mean forget gate {result['forget'].mean():.2f}; the first character's memory "
                f"reaches the end scaled by {result['dc_T/dc_t'].iloc[0]:.3g}")

    def chart(self):
        import altair as alt

        long = self.result.melt(["t", "character"], ["forget", "input", "output", "dc_T/dc_t"],
                                var_name="quantity", value_name="value")
        return (
            alt.Chart(long).mark_line(point=True)
            .encode(x=alt.X("t:Q", title="step (character)"), y=alt.Y("value:Q"),
                    color="quantity:N", tooltip=["character:N", "quantity:N", "value:Q"])
            .properties(width=420, height=240)
        )


class AttentionScalingExplorer(Explorer):
    """One query against random keys: d_k and the 1/sqrt(d_k) scaling -> the weights."""

    def __init__(self, *, n_keys: int = 16, seed: int = 0, live: bool = True) -> None:
        self.n_keys, self.seed = n_keys, seed
        super().__init__(live=live)

    def make_controls(self) -> dict[str, widgets.ValueWidget]:
        return {
            "d_k": widgets.Dropdown(options=[4, 16, 64, 256, 1024], value=64,
                                    description="d_k"),
            "scaled": widgets.Checkbox(value=True, description="divide by sqrt(d_k)"),
        }

    def compute(self, d_k: int, scaled: bool) -> pd.DataFrame:
        g = torch.Generator().manual_seed(self.seed)
        q, k = torch.randn(1, d_k, generator=g), torch.randn(self.n_keys, d_k, generator=g)
        v = torch.eye(self.n_keys)
        if scaled:
            _, weights = attention(q, k, v)
        else:  # the same scores without the scaling: multiply q by sqrt(d_k) first
            _, weights = attention(q * d_k**0.5, k, v)
        return pd.DataFrame({"key": range(self.n_keys), "weight": weights[0].numpy()})

    def summarize(self, result: pd.DataFrame) -> str:
        w = result["weight"].to_numpy()
        entropy = float(-(w * np.log(np.clip(w, 1e-12, None))).sum())
        return (f"largest weight {w.max():.2f}, entropy {entropy:.2f} nats "
                f"(uniform over {len(w)} keys: {math.log(len(w)):.2f})")

    def chart(self):
        import altair as alt

        return (
            alt.Chart(self.result).mark_bar()
            .encode(x="key:O", y=alt.Y("weight:Q", scale=alt.Scale(domain=[0, 1])))
            .properties(width=420, height=200)
        )


class PositionsExplorer(Explorer):
    """A small Transformer with or without positions: does shuffling the input matter?"""

    def __init__(self, *, length: int = 12, seed: int = 0, live: bool = True) -> None:
        self.length, self.seed = length, seed
        super().__init__(live=live)

    def make_controls(self) -> dict[str, widgets.ValueWidget]:
        return {
            "positions": widgets.Dropdown(options=["none", "sinusoidal", "learned"],
                                          value="none", description="positions"),
            "n_heads": widgets.Dropdown(options=[1, 2, 4, 8], value=4, description="heads"),
        }

    def compute(self, positions: str, n_heads: int) -> pd.DataFrame:
        torch.manual_seed(self.seed)
        model = TransformerModel(TransformerConfig(
            input_size=4, d_model=32, n_heads=n_heads, n_layers=2, d_ff=64, positions=positions,
            max_len=self.length, readout="all", output_size=4)).eval()
        g = torch.Generator().manual_seed(self.seed)
        x = torch.randn(1, self.length, 4, generator=g)
        order = torch.randperm(self.length, generator=g)
        with torch.no_grad():
            h, weights = model.encode(x, need_weights=True)
            h_shuffled, _ = model.encode(x[:, order])
        gap = (h_shuffled - h[:, order]).abs().amax(dim=-1)[0]  # per position
        last = weights[-1][0]  # (H, T, T): the last block's heads
        entropy = -(last * last.clamp_min(1e-12).log()).sum(-1).mean(-1)  # per head
        self.head_entropy = entropy.tolist()
        return pd.DataFrame({"position": range(self.length), "shuffle_gap": gap.numpy()})

    def summarize(self, result: pd.DataFrame) -> str:
        heads = ", ".join(f"{e:.2f}" for e in self.head_entropy)
        return (f"shuffling the input, then un-shuffling the outputs, changes them by up to "
                f"{result['shuffle_gap'].max():.1e}; attention entropy per head: {heads} nats")

    def chart(self):
        import altair as alt

        return (
            alt.Chart(self.result).mark_bar()
            .encode(x="position:O", y=alt.Y("shuffle_gap:Q", title="change after shuffling"))
            .properties(width=420, height=200)
        )


class NgramExplorer(Explorer):
    """The order n and the vocabulary of an n-gram model -> how many test n-grams are new."""

    def __init__(self, *, live: bool = True) -> None:
        from ..corpus import load_shakespeare, split_by_position
        from ..tokenizers import word_tokens

        tokens = word_tokens(load_shakespeare())
        self.train_tokens, self.test_tokens = split_by_position(tokens, val_fraction=0.1)
        counts: dict[str, int] = {}
        for token in self.train_tokens:
            counts[token] = counts.get(token, 0) + 1
        self.by_frequency = sorted(counts, key=lambda t: (-counts[t], t))
        super().__init__(live=live)

    def make_controls(self) -> dict[str, widgets.ValueWidget]:
        return {
            "n": widgets.IntSlider(value=2, min=1, max=6, description="n"),
            "vocabulary": widgets.Dropdown(options=[100, 1000, 10000, len(self.by_frequency)],
                                           value=len(self.by_frequency),
                                           description="vocabulary"),
        }

    def compute(self, n: int, vocabulary: int) -> pd.DataFrame:
        from ..models.bow import ngram_growth

        kept = set(self.by_frequency[:vocabulary])

        def cut(tokens: list[str]) -> list[str]:  # words outside the vocabulary become <unk>
            return [t if t in kept else "<unk>" for t in tokens]

        return ngram_growth(cut(self.train_tokens), cut(self.test_tokens), range(1, n + 1))

    def summarize(self, result: pd.DataFrame) -> str:
        last = result.iloc[-1]
        return (f"n = {int(last.n)}: {100 * last.unseen_test_share:.1f}% of the test text's "
                f"n-grams never occur in training; {int(last.distinct_seen):,} distinct seen of "
                f"{last.possible:.2g} possible")

    def chart(self):
        import altair as alt

        return (
            alt.Chart(self.result).mark_bar()
            .encode(x="n:O", y=alt.Y("unseen_test_share:Q", scale=alt.Scale(domain=[0, 1]),
                                     title="share of test n-grams unseen"))
            .properties(width=420, height=200)
        )


class FreezingExplorer(Explorer):
    """Freeze the first k parts of a model -> trainable parameters and the time of a step."""

    def __init__(self, *, width: int = 64, length: int = 128, batch: int = 16,
                 live: bool = True) -> None:
        self.width, self.length, self.batch = width, length, batch
        super().__init__(live=live)

    def make_controls(self) -> dict[str, widgets.ValueWidget]:
        return {
            "family": widgets.Dropdown(options=["Transformer", "LSTM"], value="Transformer",
                                       description="family"),
            "frozen": widgets.IntSlider(value=0, min=0, max=2, description="frozen parts"),
        }

    def compute(self, family: str, frozen: int) -> pd.DataFrame:
        from ..models.pairs import char_lm_pair
        from ..profiling import time_training_step
        from ..training import count_parameters
        from ..transfer import freeze, stages

        torch.manual_seed(0)
        model = char_lm_pair(self.width)[family]
        if frozen:
            freeze(model, depth=frozen)
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, 65, (self.batch, self.length + 1), generator=g)
        self.device = get_device()
        self.step_ms = 1000 * time_training_step(model, x[:, :-1], x[:, 1:],
                                                 device=self.device)["median_s"]
        self.trainable = count_parameters(model, trainable_only=True)
        return pd.DataFrame([{"part": name, "parameters": count_parameters(part),
                              "trainable": count_parameters(part, trainable_only=True)}
                             for name, part in stages(model)])

    def summarize(self, result: pd.DataFrame) -> str:
        return (f"{self.trainable:,} of {int(result.parameters.sum()):,} parameters trainable; "
                f"one training step takes {self.step_ms:.1f} ms on {self.device}")

    def chart(self):
        import altair as alt

        long = self.result.melt("part", ["parameters", "trainable"], var_name="kind",
                                value_name="count")
        return (
            alt.Chart(long).mark_bar()
            .encode(x=alt.X("part:N", sort=None), y="count:Q", xOffset="kind:N", color="kind:N")
            .properties(width=420, height=200)
        )


class StreamingExplorer(Explorer):
    """Generate one more token after p tokens: the LSTM's fixed state against the growing
    key/value cache of a Transformer of the same size."""

    def __init__(self, *, live: bool = True) -> None:
        super().__init__(live=live)

    def make_controls(self) -> dict[str, widgets.ValueWidget]:
        return {
            "width": widgets.Dropdown(options=[32, 64, 128], value=64, description="width"),
            "position": widgets.Dropdown(options=[16, 64, 256, 1024], value=256,
                                         description="tokens so far"),
        }

    def compute(self, width: int, position: int) -> pd.DataFrame:
        from ..models.pairs import char_lm_pair
        from ..sampling import streaming_cost

        torch.manual_seed(0)
        rows = [streaming_cost(model, positions=[position], vocab_size=65, repeats=5)
                .assign(model=name) for name, model in char_lm_pair(width).items()]
        return pd.concat(rows, ignore_index=True).assign(state_kb=lambda t: t.state_bytes / 1024)

    def summarize(self, result: pd.DataFrame) -> str:
        parts = [f"{r.model}: {r.ms_per_token:.2f} ms, {r.state_kb:,.1f} KB carried"
                 for r in result.itertuples()]
        return f"next token after {int(result.position.iloc[0])}: " + "; ".join(parts)

    def chart(self):
        import altair as alt

        return (
            alt.Chart(self.result).mark_bar()
            .encode(x="model:N", y=alt.Y("state_kb:Q", title="state carried (KB)"),
                    color="model:N")
            .properties(width=420, height=200)
        )


class ScanExplorer(Explorer):
    """One minGRU layer, forward and backward, run by the loop and by the parallel scan at the
    length and width you choose: the time of each and the largest difference between their
    states (the two must agree: they compute the same recurrence)."""

    def __init__(self, *, live: bool = True) -> None:
        super().__init__(live=live)

    def make_controls(self) -> dict[str, widgets.ValueWidget]:
        return {
            "length": widgets.Dropdown(options=[16, 64, 256, 1024], value=256,
                                       description="length T"),
            "width": widgets.Dropdown(options=[16, 64, 256], value=64, description="width"),
        }

    def compute(self, length: int, width: int) -> pd.DataFrame:
        from ..models.linear_rnn import MinGRU
        from ..profiling import time_backward

        device = get_device()
        torch.manual_seed(0)
        layer = MinGRU(width, width).to(device)
        x = torch.randn(4, length, width, device=device)
        rows = []
        for way, run in [("loop", layer.forward_loop), ("scan", layer.forward)]:
            timing = time_backward(lambda run=run: run(x)[0].square().mean(), device=device,
                                   repeats=3, warmup=1)
            rows.append({"way": way, "ms": 1000 * timing["median_s"],
                         "states": run(x)[0].detach()})
        gap = float((rows[0]["states"] - rows[1]["states"]).abs().max())
        return pd.DataFrame([{"way": r["way"], "ms": r["ms"], "length": length, "width": width,
                              "max_difference": gap} for r in rows])

    def summarize(self, result: pd.DataFrame) -> str:
        loop, scan = result.set_index("way").ms.loc[["loop", "scan"]]
        return (f"T = {int(result.length.iloc[0])}: loop {loop:.2f} ms, scan {scan:.2f} ms "
                f"(loop / scan = {loop / scan:.2f}); the states differ by at most "
                f"{result.max_difference.iloc[0]:.1e}")

    def chart(self):
        import altair as alt

        return (
            alt.Chart(self.result).mark_bar()
            .encode(x=alt.X("way:N", title=None), y=alt.Y("ms:Q", title="forward + backward (ms)"),
                    color="way:N")
            .properties(width=300, height=200)
        )


# Every live explorer, by the chapter that shows it: the launched-notebook tests drive each one
# through the widget API. Each factory registers itself where it is defined (shown_in), and a
# unit test checks that every factory and every chapter that shows one is registered.
EXPLORERS: dict[str, Callable[..., Explorer]] = {}


def shown_in(chapter: str):
    """Register the decorated factory as ``chapter``'s live explorer in :data:`EXPLORERS`."""
    def register(factory):
        if chapter in EXPLORERS:
            raise ValueError(f"{chapter} has an explorer already: {EXPLORERS[chapter].__name__}")
        EXPLORERS[chapter] = factory
        return factory
    return register


@shown_in("01_neural_networks")
def gradient_explorer(**kwargs: object) -> GradientExplorer:
    """Chapter 1's live explorer (see :class:`GradientExplorer`)."""
    return GradientExplorer(**kwargs)


@shown_in("03_recurrent_networks")
def recurrent_gradient_explorer(**kwargs: object) -> RecurrentGradientExplorer:
    """Chapter 3's live explorer (see :class:`RecurrentGradientExplorer`)."""
    return RecurrentGradientExplorer(**kwargs)


@shown_in("04_lstm")
def forget_gate_explorer(**kwargs: object) -> ForgetGateExplorer:
    """Chapter 4's live explorer (see :class:`ForgetGateExplorer`)."""
    return ForgetGateExplorer(**kwargs)


@shown_in("06_attention")
def attention_scaling_explorer(**kwargs: object) -> AttentionScalingExplorer:
    """Chapter 6's live explorer (see :class:`AttentionScalingExplorer`)."""
    return AttentionScalingExplorer(**kwargs)


@shown_in("07_transformer")
def positions_explorer(**kwargs: object) -> PositionsExplorer:
    """Chapter 7's live explorer (see :class:`PositionsExplorer`)."""
    return PositionsExplorer(**kwargs)


@shown_in("02_sequences_bag_of_words")
def ngram_explorer(**kwargs: object) -> NgramExplorer:
    """Chapter 2's live explorer (see :class:`NgramExplorer`)."""
    return NgramExplorer(**kwargs)


@shown_in("08_transfer_learning")
def freezing_explorer(**kwargs: object) -> FreezingExplorer:
    """Chapter 8's live explorer (see :class:`FreezingExplorer`)."""
    return FreezingExplorer(**kwargs)


@shown_in("09_is_lstm_dead")
def streaming_explorer(**kwargs: object) -> StreamingExplorer:
    """Chapter 9's live explorer (see :class:`StreamingExplorer`)."""
    return StreamingExplorer(**kwargs)


@shown_in("10_recurrence_returns")
def scan_explorer(**kwargs: object) -> ScanExplorer:
    """Chapter 10's live explorer (see :class:`ScanExplorer`)."""
    return ScanExplorer(**kwargs)
