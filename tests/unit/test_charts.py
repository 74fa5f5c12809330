import json
import re
from pathlib import Path

import altair as alt
import jsonschema
import pandas as pd
import pytest

from rnn2transformer.book import charts

BUNDLE = Path(__file__).parents[2] / "book" / "_static" / "vega-bundle.js"


def sample_chart():
    data = pd.DataFrame({"x": [0, 1, 2], "y": [1.0, 0.5, 0.25], "k": list("abc")})
    s = charts.slider("cut", minimum=0, maximum=2, step=1, value=1)
    return (
        alt.Chart(data)
        .mark_line()
        .encode(x="x:Q", y="y:Q")
        .add_params(s)
        .transform_filter(alt.datum.x <= s)
        .properties(description="a test chart </script>")
    )


def test_theme_is_enabled_and_spec_is_valid_vega_lite():
    spec = sample_chart().to_dict()
    assert alt.theme.active == charts.THEME_NAME
    assert spec["config"]["range"]["category"] == charts.PALETTE
    schema = alt.vegalite.v6.schema.core.load_schema()
    jsonschema.validate(spec, schema)  # raises on an invalid spec
    assert spec["params"][0]["bind"]["input"] == "range"


def test_book_renderer_needs_no_cdn_and_escapes_script_end():
    spec = sample_chart().to_dict()
    html = charts.book_renderer(spec)["text/html"]
    assert "vegaEmbed(el," in html and "renderer: 'svg'" in html
    # Only the spec's "$schema" names a URL; nothing is loaded from anywhere.
    assert "src=" not in html and "jsdelivr" not in html and "require(" not in html
    assert "</script>" not in html.split("<script>", 1)[1][:-len("</script>")]
    embedded = re.search(r"vegaEmbed\(el, (\{.*\}), \{renderer", html, re.S).group(1)
    assert json.loads(embedded.replace("<\\/", "</")) == spec
    assert 'aria-label="a test chart &lt;/script&gt;"' in html


def test_renderer_ids_are_unique_and_repeatable():
    spec = sample_chart().to_dict()
    first = charts.book_renderer(spec)["text/html"]
    second = charts.book_renderer(spec)["text/html"]
    ids = [re.search(r'id="([^"]+)"', h).group(1) for h in (first, second)]
    assert ids[0] != ids[1]
    assert ids[0].rsplit("-", 1)[0] == ids[1].rsplit("-", 1)[0]  # same content hash


def test_bundle_matches_the_installed_altair():
    header = BUNDLE.read_text()[:400]
    versions = dict(re.findall(r"(vega(?:-lite|-embed)?)@([\d.]+)", header))
    assert versions["vega-lite"] == alt.SCHEMA_VERSION.lstrip("v")
    assert versions["vega"].split(".")[0] == alt.VEGA_VERSION.lstrip("v").split(".")[0]
    assert versions["vega-embed"].split(".")[0] == alt.VEGAEMBED_VERSION.lstrip("v").split(".")[0]
    assert "sourceMappingURL" not in BUNDLE.read_text()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="a b", minimum=0, maximum=1, step=1), "valid identifier"),
        (dict(name="s", minimum=1, maximum=1, step=1), "maximum must be > minimum"),
        (dict(name="s", minimum=0, maximum=1, step=0), "step must be > 0.0"),
        (dict(name="s", minimum=0, maximum=1, step=1, value=3), "value must be <= 1.0, got 3"),
    ],
)
def test_slider_validates(kwargs, message):
    name = kwargs.pop("name")
    with pytest.raises(ValueError, match=message):
        charts.slider(name, **kwargs)


def test_describe_sets_the_accessible_description():
    chart = charts.describe(alt.Chart(pd.DataFrame({"x": [1]})).mark_point(), "one point")
    assert chart.to_dict()["description"] == "one point"
    with pytest.raises(ValueError, match="non-empty"):
        charts.describe(chart, " ")


def test_renderer_adds_a_vector_pdf_for_the_latex_builder():
    import base64
    import io

    from pypdf import PdfReader

    narrow = charts.book_renderer(sample_chart().properties(width=100).to_dict())
    wide = charts.book_renderer(sample_chart().properties(width=400).to_dict())
    pages = []
    for bundle in (narrow, wide):
        pdf = base64.b64decode(bundle["application/pdf"])
        assert pdf.startswith(b"%PDF-")
        reader = PdfReader(io.BytesIO(pdf))
        assert len(reader.pages) == 1
        pages.append(reader.pages[0])
    # The slider chart is drawn at its initial value, at the size the spec asks for.
    assert float(pages[1].mediabox.width) - float(pages[0].mediabox.width) > 250


def test_static_pdf_rejects_what_is_not_a_spec():
    with pytest.raises(ValueError, match="Vega-Lite spec dict"):
        charts.static_pdf("<svg/>")
    with pytest.raises(ValueError, match="Vega-Lite spec dict"):
        charts.static_pdf({"data": {"values": []}})


def test_baseline_rules_layer_labelled_lines_on_the_models_axis():
    curves = pd.DataFrame({"step": [1, 2, 1, 2], "bits/char": [4.0, 3.0, 4.2, 3.4],
                           "model": ["LSTM", "LSTM", "Transformer", "Transformer"]})
    line = alt.Chart(curves).mark_line().encode(x="step:Q", y="bits/char:Q", color="model:N")
    counts = {"unigram": 4.77, "bigram": 3.59, "trigram": 2.90}
    spec = alt.layer(line, charts.baseline_rules(counts)).to_dict()
    jsonschema.validate(spec, alt.vegalite.v6.schema.core.load_schema())
    references = spec["layer"][1]
    rules = [layer for layer in references["layer"] if layer["mark"]["type"] == "rule"]
    assert rules and rules[0]["encoding"]["y"]["field"] == "bits/char"  # the models' y axis
    values = spec["datasets"][references["data"]["name"]]
    assert [v["bits/char"] for v in values] == [4.77, 3.59, 2.90]
    assert [v["model"] for v in values] == ["unigram counts", "bigram counts", "trigram counts"]
    with pytest.raises(ValueError, match="baselines must map names to bits per character"):
        charts.baseline_rules({})


def layer_sizes(chart) -> list[int]:
    """How many rows each layer of a layered chart draws. Altair moves a layer's rows into the
    spec's top-level datasets and leaves the layer the dataset's name."""
    spec = chart.to_dict()
    return [len(spec["datasets"][layer["data"]["name"]]) if "name" in layer["data"]
            else len(layer["data"]["values"]) for layer in spec["layer"]]


def test_the_diagrams_are_charts_with_their_labels_and_refuse_bad_parts():
    from rnn2transformer.book import diagrams

    for chart, label in [(diagrams.lstm_cell(), "c[t]"), (diagrams.unrolled_rnn(3), "h[3]"),
                         (diagrams.transformer_block(), "feed-forward"),
                         (diagrams.matrix_state_step(), "S[t]")]:
        spec = chart.to_dict()
        assert label in str(spec)  # the text is text, for a screen reader and a search
    # no empty layers: each would be an image with nothing to describe (axe's svg-img-alt)
    sizes = layer_sizes(diagrams.unrolled_rnn(3))
    assert len(sizes) == 4 and all(sizes)  # the unrolled network has no operation nodes
    with pytest.raises(ValueError, match="kind in"):
        diagrams.diagram([(1, 1, 1, 1, "x", "unknown")], [])
    with pytest.raises(ValueError, match="style in"):
        diagrams.diagram([], [(0, 0, 1, 1, "sideways")])
    with pytest.raises(ValueError, match="steps must be"):
        diagrams.unrolled_rnn(9)


def test_the_encoder_decoder_diagram_names_every_part_and_draws_no_empty_layer():
    from rnn2transformer.book.diagrams import encoder_decoder_attention

    spec = str(encoder_decoder_attention().to_dict())
    for label in ("x[1]", "h[4]", "s[t−1]", "y[t−1]", "s[t]", "context c[t]", "weights a[t,j]"):
        assert label in spec  # the text is text, for a screen reader and a search
    assert "h[5]" not in spec and "h[3]" in str(encoder_decoder_attention(3).to_dict())
    assert all(layer_sizes(encoder_decoder_attention()))


def test_the_encoder_decoder_diagram_refuses_a_bad_size():
    from rnn2transformer.book.diagrams import encoder_decoder_attention

    with pytest.raises(ValueError, match="source_words must be an int from 2 to 5"):
        encoder_decoder_attention(9)
