"""Altair charts for the book: one theme, one offline renderer, a few helpers.

Why a renderer of our own: Altair's default HTML output loads vega, vega-lite and vega-embed
from a public CDN, which a published page should not depend on (readers may be offline, CDNs
move). During the book's build (``RNN2T_BOOK_BUILD=1``, set by the Makefile) charts are emitted
as a ``<div>`` plus a call to the global ``vegaEmbed``, which the site serves itself from
``book/_static/vega-bundle.js``. Everywhere else (Colab, Binder, local Jupyter) Altair's own
renderer is left alone.

Charts are rendered as SVG with dark-grey text; the site's stylesheet lightens text and grid
lines when the page is in dark mode, so one chart is legible in both themes.

Interactivity on the static page comes from Vega-Lite parameters (sliders, selections); see
:func:`slider`. Nothing here needs a kernel.

The book's PDF edition cannot run JavaScript, so the build renderer also puts a vector PDF of
every chart in the same output (``application/pdf``, drawn by vl-convert at the parameters'
initial values, with no browser). The HTML builder never picks that mime type and the LaTeX
builder picks it first, so one executed notebook serves both editions.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json

import altair as alt
import pandas as pd

from .._checks import check_float
from ..settings import book_build

THEME_NAME = "rnn2transformer"
RENDERER_NAME = "rnn2transformer-book"

# Mid-tone colours that keep their contrast on a white and on a near-black page.
PALETTE = [
    "#3b7dd8",  # blue
    "#e8772e",  # orange
    "#3aa35b",  # green
    "#d64550",  # red
    "#8c6bc8",  # purple
    "#1ea5a5",  # teal
    "#c9a227",  # ochre
    "#9c6b4e",  # brown
]
TEXT = "#333333"
GRID = "#cccccc"
REFERENCE = "#777777"  # reference lines (baselines): mid grey, visible in both themes


@alt.theme.register(THEME_NAME, enable=True)
def book_theme() -> alt.theme.ThemeConfig:
    """The book's chart style: transparent background, readable fonts, the palette above."""
    axis = {
        "labelColor": TEXT,
        "titleColor": TEXT,
        "gridColor": GRID,
        "domainColor": "#888888",
        "tickColor": "#888888",
        "labelFontSize": 12,
        "titleFontSize": 13,
        "titleFontWeight": "normal",
    }
    return {
        "config": {
            "background": "transparent",
            "view": {"stroke": None, "continuousWidth": 360, "continuousHeight": 240},
            "font": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            "axis": axis,
            # Below the plot: a book page is narrow, and a side legend gets clipped.
            "legend": {"labelColor": TEXT, "titleColor": TEXT, "labelFontSize": 12,
                       "orient": "bottom", "direction": "horizontal"},
            "header": {"labelColor": TEXT, "titleColor": TEXT},
            "title": {"color": TEXT, "fontSize": 14, "anchor": "start"},
            "range": {"category": PALETTE},
            "line": {"strokeWidth": 2},
            "point": {"size": 30},
        }
    }


_chart_counter = itertools.count()


def book_renderer(spec: dict, **_: object) -> dict[str, str]:
    """Render a Vega-Lite spec as HTML that needs only the site's own ``vegaEmbed``.

    The element id comes from the spec's content and its order on the page, so re-executing a
    chapter gives byte-identical HTML.
    """
    spec_json = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha1(spec_json.encode()).hexdigest()[:10]
    element_id = f"r2t-chart-{digest}-{next(_chart_counter)}"
    # '</' inside a <script> would end it early.
    safe_json = spec_json.replace("</", "<\\/")
    label = spec.get("description") or spec.get("title") or "chart"
    if not isinstance(label, str):  # a title given as a dict
        label = "chart"
    label = html.escape(label, quote=True)
    # Charts with a click/legend selection are marked, so the site tests can find them.
    selects = any("select" in p for p in _all_params(spec))
    marker = ' data-selection="true"' if selects else ""
    markup = (
        f'<div id="{element_id}" class="r2t-chart"{marker} role="img" aria-label="{label}">'
        "</div>\n"
        "<script>(function () {\n"
        f'  var el = document.getElementById("{element_id}");\n'
        "  if (typeof vegaEmbed === 'undefined') {\n"
        "    el.textContent = 'This chart needs vega-bundle.js, which did not load.';\n"
        "    return;\n"
        "  }\n"
        f"  vegaEmbed(el, {safe_json}, {{renderer: 'svg', actions: false}})\n"
        "    .catch(function (err) { el.textContent = 'Chart error: ' + err;"
        " console.error(err); });\n"
        "})();</script>"
    )
    return {"text/html": markup, "application/pdf": static_pdf(spec)}


def static_pdf(spec: dict) -> str:
    """The chart drawn as a vector PDF by vl-convert, base64-encoded as notebooks store it."""
    if not isinstance(spec, dict) or not ("mark" in spec or _COMPOSITIONS & spec.keys()):
        raise ValueError(f"spec must be a Vega-Lite spec dict, got {type(spec).__name__}")
    import vl_convert  # only the book build needs it; Colab and Binder never import it

    return base64.b64encode(vl_convert.vegalite_to_pdf(spec)).decode("ascii")


_COMPOSITIONS = {"layer", "hconcat", "vconcat", "concat", "facet", "repeat"}


def _all_params(spec: object) -> list[dict]:
    """Every parameter declared anywhere in a (possibly layered or concatenated) spec."""
    found = []
    if isinstance(spec, dict):
        found += [p for p in spec.get("params", []) if isinstance(p, dict)]
        for value in spec.values():
            found += _all_params(value)
    elif isinstance(spec, list):
        for value in spec:
            found += _all_params(value)
    return found


alt.renderers.register(RENDERER_NAME, book_renderer)
# The book's charts are built from small computed tables; Altair's 5,000-row guard would only
# get in the way of the decision-boundary grids.
alt.data_transformers.disable_max_rows()
# Altair's renderer is global and chosen before any chart is shown: the build's kernel has
# RNN2T_BOOK_BUILD set from its start, so the choice is made when the chapter imports this.
if book_build():
    alt.renderers.enable(RENDERER_NAME)


def slider(
    name: str,
    *,
    minimum: float,
    maximum: float,
    step: float,
    value: float | None = None,
    label: str | None = None,
) -> alt.Parameter:
    """A Vega-Lite parameter bound to a range input: a slider that works on the static page."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a valid identifier for a Vega expression, got {name!r}")
    minimum = check_float("minimum", minimum)
    maximum = check_float("maximum", maximum)
    step = check_float("step", step, minimum=0.0, strict_minimum=True)
    if maximum <= minimum:
        raise ValueError(f"maximum must be > minimum, got minimum={minimum}, maximum={maximum}")
    value = minimum if value is None else check_float("value", value, minimum=minimum,
                                                        maximum=maximum)
    return alt.param(
        name=name,
        value=value,
        bind=alt.binding_range(min=minimum, max=maximum, step=step, name=(label or name) + " "),
    )


def describe(chart: alt.TopLevelMixin, description: str) -> alt.TopLevelMixin:
    """Attach the text description screen readers announce for the chart."""
    if not isinstance(description, str) or not description.strip():
        raise ValueError(f"description must be a non-empty str, got {description!r}")
    return chart.properties(description=description)


def baseline_rules(baselines: dict[str, float], *, field: str = "bits/char") -> alt.LayerChart:
    """Dashed reference lines, labelled, at the bits per character of count n-gram models
    (:func:`rnn2transformer.models.ngram.ngram_baselines`): layer them on a language-model
    chart (``chart + baseline_rules(...)``) so a reader sees what counting alone reaches.
    ``field`` is the chart's y field, so the lines share its axis."""
    if not isinstance(baselines, dict) or not baselines or not all(
            isinstance(v, int | float) for v in baselines.values()):
        raise ValueError(f"baselines must map names to bits per character, got {baselines!r}")
    table = pd.DataFrame({"model": [f"{name} counts" for name in baselines],
                          field: list(baselines.values())})
    rules = alt.Chart(table).mark_rule(strokeDash=[4, 4], color=REFERENCE).encode(
        y=alt.Y(f"{field}:Q"), tooltip=["model:N", alt.Tooltip(f"{field}:Q", format=".2f")])
    labels = alt.Chart(table).mark_text(align="left", dx=4, dy=-6, color=TEXT,
                                        fontSize=11).encode(
        x=alt.value(0), y=alt.Y(f"{field}:Q"), text="model:N")
    return rules + labels
