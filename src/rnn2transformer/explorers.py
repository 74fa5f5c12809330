"""Live explorers: ipywidgets that recompute with torch when a control moves.

They need a running kernel (Colab, Binder, local Jupyter). The static site shows the same
experiments as Vega-Lite sliders over precomputed grids instead.

Each explorer is an :class:`Explorer`: a dict of ``controls``, a ``compute(**values)`` that runs
the real experiment and returns a table (kept in ``result``), a one-line ``summary`` and a chart.
Moving a control recomputes all three.
"""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd
import torch
from IPython.display import display

from .mlp import ACTIVATIONS, INITS, MLP, MLPConfig, gradient_by_layer
from .rnn import NONLINEARITIES, RNN, gradient_probe, spectral_matrix
from .synthetic import make_spirals


class Explorer:
    """Controls -> real computation -> table, summary line and chart."""

    def __init__(self, controls: dict[str, widgets.ValueWidget]) -> None:
        self.controls = controls
        self.output = widgets.Output()
        self.result: pd.DataFrame | None = None
        self.summary = ""
        for control in self.controls.values():
            control.observe(self._update, names="value")
        self.widget = widgets.VBox([widgets.HBox(list(self.controls.values())), self.output])
        self._update()

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

    def __init__(self, *, width: int = 64, n_examples: int = 256, seed: int = 0) -> None:
        self.width, self.seed = width, seed
        self.x, self.y = make_spirals(n_examples // 2, seed=seed)
        super().__init__({
            "depth": widgets.IntSlider(value=10, min=2, max=30, description="depth"),
            "activation": widgets.Dropdown(
                options=list(ACTIVATIONS), value="sigmoid", description="activation"
            ),
            "init": widgets.Dropdown(options=list(INITS), value="default", description="init"),
        })

    def compute(self, depth: int, activation: str, init: str) -> pd.DataFrame:
        torch.manual_seed(self.seed)
        config = MLPConfig(n_hidden=self.width, n_layers=depth, activation=activation, init=init)
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

    Every change builds ``W_hh = lambda Q`` and reruns :func:`~rnn2transformer.rnn.gradient_probe`.
    """

    def __init__(self, *, length: int = 60, seed: int = 0) -> None:
        self.length, self.seed = length, seed
        super().__init__({
            "spectral_radius": widgets.FloatSlider(value=1.0, min=0.1, max=2.0, step=0.05,
                                                   description="lambda"),
            "nonlinearity": widgets.Dropdown(options=list(NONLINEARITIES), value="tanh",
                                             description="f"),
            "hidden_size": widgets.IntSlider(value=32, min=2, max=256, description="hidden"),
        })

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


def gradient_explorer(**kwargs: object) -> GradientExplorer:
    """Chapter 1's live explorer (see :class:`GradientExplorer`)."""
    return GradientExplorer(**kwargs)


def recurrent_gradient_explorer(**kwargs: object) -> RecurrentGradientExplorer:
    """Chapter 3's live explorer (see :class:`RecurrentGradientExplorer`)."""
    return RecurrentGradientExplorer(**kwargs)


# Every live explorer, by the chapter that shows it: the launched-notebook tests drive each one
# through the widget API, so a new explorer is tested once it is listed here.
EXPLORERS = {
    "01_neural_networks": gradient_explorer,
    "03_recurrent_networks": recurrent_gradient_explorer,
}
