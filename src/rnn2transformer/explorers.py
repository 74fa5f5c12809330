"""Live explorers: ipywidgets that recompute with torch when a control moves.

They need a running kernel (Colab, Binder, local Jupyter). The static site shows the same
experiments as Vega-Lite sliders over precomputed grids instead.
"""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd
import torch
from IPython.display import display

from .mlp import ACTIVATIONS, INITS, MLP, MLPConfig, gradient_by_layer
from .synthetic import make_spirals


class GradientExplorer:
    """Depth, activation and initialisation of an MLP -> back-propagated gradient per layer.

    ``controls`` holds the widgets; ``result`` the table behind the latest plot, recomputed
    (a fresh network, real autograd) every time a control changes.
    """

    def __init__(self, *, width: int = 64, n_examples: int = 256, seed: int = 0) -> None:
        self.width, self.seed = width, seed
        self.x, self.y = make_spirals(n_examples // 2, seed=seed)
        self.controls = {
            "depth": widgets.IntSlider(value=10, min=2, max=30, description="depth"),
            "activation": widgets.Dropdown(
                options=list(ACTIVATIONS), value="sigmoid", description="activation"
            ),
            "init": widgets.Dropdown(options=list(INITS), value="default", description="init"),
        }
        self.output = widgets.Output()
        self.result: pd.DataFrame | None = None
        self.summary = ""
        for control in self.controls.values():
            control.observe(self._update, names="value")
        self.widget = widgets.VBox([widgets.HBox(list(self.controls.values())), self.output])
        self._update()

    def compute(self, depth: int, activation: str, init: str) -> pd.DataFrame:
        torch.manual_seed(self.seed)
        config = MLPConfig(n_hidden=self.width, n_layers=depth, activation=activation, init=init)
        return gradient_by_layer(MLP(config), self.x, self.y)

    def _update(self, change: object = None) -> None:
        values = {name: control.value for name, control in self.controls.items()}
        self.result = self.compute(**values)
        first, last = self.result["delta_norm"].iloc[[0, -1]]
        self.summary = f"||dL/dz|| in layer 1 / in layer {len(self.result)}: {first / last:.3g}"
        with self.output:
            self.output.clear_output(wait=True)
            print(self.summary)
            display(self.chart())

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

    def _ipython_display_(self) -> None:
        display(self.widget)


def gradient_explorer(**kwargs: object) -> GradientExplorer:
    """Chapter 1's live explorer (see :class:`GradientExplorer`)."""
    return GradientExplorer(**kwargs)
