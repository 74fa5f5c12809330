"""The live widgets in Chromium: the book's exported models run in the page and give the
outputs PyTorch gave in the build (the golden values in each model's JSON), the runtime is
fetched only on first use, and a page whose runtime cannot load shows the build's outputs.
Chapter 9's widget says what it measured in words its own timings decide (timing.js), and
chapter 11's draws each DeltaNet layer's state matrix token by token.

Each test also records what a page transferred after first use and the latency the reader
would see; they are added to _build/site-report.json under "live"."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .conftest import SITE
from .test_browser import open_page

GOLDEN_TOLERANCE = 1e-4
READY_TIMEOUT_MS = 60_000
WIDGETS = {  # page: (widget, exported model names)
    "chapters/04_lstm": ("lstm", ["ch4-lstm"]),
    "chapters/07_transformer": ("transformer", ["ch7-transformer"]),
    "chapters/09_is_lstm_dead": ("side-by-side", ["ch9-lstm", "ch9-transformer", "ch9-mingru"]),
    "chapters/11_state_that_remembers": ("deltanet", ["ch11-deltanet"]),
}
VERDICTS = {"grew", "fell", "stayed within noise"}
RUNTIME = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


def model_info(site, name):
    return json.loads((site / "_static" / "models" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def live_report():
    report: dict[str, dict] = {}
    yield report
    path = SITE.parent / "site-report.json"
    whole = json.loads(path.read_text()) if path.exists() else {}
    whole["live"] = report
    path.write_text(json.dumps(whole, indent=2) + "\n")
    print("\nlive widgets (after first use):")
    for entry, row in report.items():
        print(f"  {entry}: {row['runtime_bytes'] / 1e6:.2f} MB runtime + "
              f"{row['model_bytes'] / 1e3:.0f} kB models; {row['latency']}")


def transferred(page, names):
    """Bytes the page fetched for resources whose file name is in ``names``."""
    return page.evaluate(
        "names => performance.getEntriesByType('resource')"
        ".filter(e => names.includes(e.name.split('/').pop()))"
        ".reduce((total, e) => total + (e.encodedBodySize || 0), 0)", names)


def requested(page):
    return page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name.split('/').pop())")


def wait_ready(page, text=None):
    page.wait_for_function(
        "t => { const w = document.querySelector('.r2t-live');"
        " return w.dataset.state === 'ready' && (t === null || w.dataset.text === t); }",
        arg=text, timeout=READY_TIMEOUT_MS)


def close(a, b):
    """The largest difference between two arrays of the same shape (no broadcasting: a page
    that returned one row where the build saved many must not pass)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, f"shapes differ: {a.shape} and {b.shape}"
    return np.abs(a - b).max()


def check_deltanet(page, info, golden, result):
    """Chapter 11's widget against the build: the answers at the queries and every layer's
    state after the last token, then the drawing (one labelled heatmap per layer and head)."""
    assert result["ids"] == golden["ids"] and result["queries"] == golden["queries"]
    assert close(result["queryProbs"], golden["probs"]) < GOLDEN_TOLERANCE
    assert close(result["lastState"], golden["state"]) < GOLDEN_TOLERANCE
    matrices = page.locator(".r2t-live-matrices svg")
    assert matrices.count() == info["n_layers"] * info["n_heads"]
    assert matrices.first.locator("rect").count() == info["d_value"] * info["d_key"] + 1
    assert "state matrix" in matrices.last.get_attribute("aria-label")
    assert page.locator(".r2t-live-answers li").count() == len(golden["queries"])
    assert page.locator(".r2t-live-tokens span").count() == len(golden["ids"])
    page.click('button[data-step="-1"]')  # one token back: the slider and the drawing follow
    where = page.inner_text(".r2t-live-position")
    assert where.startswith(f"token {len(golden['ids']) - 1} of {len(golden['ids'])}")
    assert f"after token {len(golden['ids']) - 1} " in matrices.last.get_attribute("aria-label")


@pytest.mark.parametrize("entry", list(WIDGETS))
def test_widget_runs_the_exported_model_and_matches_pytorch(browser, server, site, entry,
                                                            live_report):
    widget, names = WIDGETS[entry]
    infos = [model_info(site, name) for name in names]
    page, log = open_page(browser, server, entry)
    try:
        page.wait_for_load_state("networkidle")
        assert page.locator(f'.r2t-live[data-widget="{widget}"]').count() == 1
        before = requested(page)
        assert not set(before) & {*RUNTIME, *(f"{n}.onnx" for n in names)}, \
            "the runtime or a model was fetched before the reader used the widget"
        golden = infos[0]["golden"]
        page.fill(".r2t-live textarea", golden["text"])
        if widget == "side-by-side":
            page.click(".r2t-live button")
        wait_ready(page, golden["text"])
        result = page.evaluate("document.querySelector('.r2t-live').r2tResult")
        if widget == "lstm":
            assert close(result["probs"], golden["probs"]) < GOLDEN_TOLERANCE
            assert close(result["gates"], golden["gates"]) < GOLDEN_TOLERANCE
            assert close(result["cell"], golden["cell"]) < GOLDEN_TOLERANCE
            latency = f"{result['msPerChar']:.3f} ms per character read"
            assert page.locator(".r2t-live-heat .r2t-live-row").count() == len(infos[0]["units"])
        elif widget == "deltanet":
            check_deltanet(page, infos[0], golden, result)
            latency = f"{result['msPerToken']:.3f} ms per token read"
        elif widget == "transformer":
            assert close(result["probs"], golden["probs"]) < GOLDEN_TOLERANCE
            assert close(result["lastAttention"], golden["attention"]) < GOLDEN_TOLERANCE
            latency = f"{result['msWindow']:.1f} ms per pass over {len(golden['text'])} characters"
            rows = infos[0]["n_layers"] * infos[0]["n_heads"]
            assert page.locator(".r2t-live-heat .r2t-live-row").count() == rows
        else:  # every model, each against its own golden values for the same text
            keys = ["lstm", "transformer", "mingru"]
            assert len({info["golden"]["text"] for info in infos}) == 1
            for key, info in zip(keys, infos, strict=True):
                assert close(result[f"{key}Probs"], info["golden"]["probs"]) < GOLDEN_TOLERANCE
            ms = {k: [t["ms"] for t in result[f"{k}Times"]] for k in keys}
            assert all(len(v) == 200 and min(v) >= 0 for v in ms.values())
            latency = ", ".join(f"{k} median {np.median(v):.3f} ms per generated character"
                                for k, v in ms.items())
            assert page.locator(".r2t-live-chart svg polyline").count() == len(keys)
            said = page.inner_text(".r2t-live-status")
            assert "In your browser" in said and "alternating pairs" in said
            assert {v["word"] for v in result["verdicts"].values()} <= VERDICTS
            assert set(result["verdicts"]) == {"LSTM", "Transformer", "minGRU"}
            assert all(len(result["paired"][k]["early"]) == len(result["paired"][k]["late"])
                       for k in result["paired"])
        assert set(RUNTIME) <= set(requested(page))
        live_report[entry] = {"runtime_bytes": transferred(page, list(RUNTIME)),
                              "model_bytes": transferred(page, [f"{n}.onnx" for n in names]),
                              "latency": latency}
        page.wait_for_timeout(300)
        assert log["blocked"] == [], f"requests to other hosts: {log['blocked']}"
        assert log["errors"] == [], f"console errors: {log['errors']}"
    finally:
        page.close()


@pytest.mark.parametrize("entry", ["chapters/04_lstm", "chapters/07_transformer"])
def test_widget_shows_the_builds_outputs_when_the_runtime_cannot_load(browser, server, site,
                                                                       entry):
    widget, names = WIDGETS[entry]
    info = model_info(site, names[0])
    page, log = open_page(browser, server, entry)
    try:
        page.route("**/*.wasm", lambda route: route.abort())  # as if WebAssembly were missing
        page.click(".r2t-live textarea")
        page.wait_for_function("document.querySelector('.r2t-live').dataset.state === 'fallback'",
                               timeout=READY_TIMEOUT_MS)
        page.wait_for_function(
            "document.querySelectorAll('.r2t-live-heat .r2t-live-row').length > 0")
        assert "cannot run in this browser" in page.inner_text(".r2t-live-status")
        shown = page.locator(".r2t-live-heat .r2t-live-row").first.inner_text()
        default = info["default"]["text"].replace("\n", "\u21b5").replace(" ", "\u2423")
        assert default[:20] in shown.replace("\n", "")
        assert page.locator(".r2t-live-next li").count() == 8
    finally:
        page.close()


def test_side_by_side_says_when_the_transformer_reads_a_full_window(browser, server, site):
    """A text longer than the Transformer's window: its context is capped for every generated
    character, and the widget's sentence says so (whatever its timings decide)."""
    info = model_info(site, "ch9-transformer")
    window = info["max_len"]
    text = (info["golden"]["text"] + " ") * (window // len(info["golden"]["text"]) + 2)
    page, log = open_page(browser, server, "chapters/09_is_lstm_dead")
    try:
        page.fill(".r2t-live textarea", text)
        page.click(".r2t-live button")
        wait_ready(page, text)
        said = page.inner_text(".r2t-live-status")
        assert f"its full window of {window} characters in both sets" in said
        assert "grew as its context did" not in said
        assert log["errors"] == [], f"console errors: {log['errors']}"
    finally:
        page.close()


def test_deltanet_widget_shows_the_builds_outputs_when_the_runtime_cannot_load(browser, server,
                                                                                 site):
    info = model_info(site, "ch11-deltanet")
    default = info["default"]
    page, _ = open_page(browser, server, "chapters/11_state_that_remembers")
    try:
        page.route("**/*.wasm", lambda route: route.abort())
        page.click(".r2t-live textarea")
        page.wait_for_function("document.querySelector('.r2t-live').dataset.state === 'fallback'",
                               timeout=READY_TIMEOUT_MS)
        page.wait_for_function("document.querySelectorAll('.r2t-live-matrices svg').length > 0")
        assert "cannot run in this browser" in page.inner_text(".r2t-live-status")
        assert page.locator(".r2t-live-matrices svg").count() == info["n_layers"] * info["n_heads"]
        assert page.locator(".r2t-live-answers li").count() == len(default["queries"])
        assert page.locator('.r2t-live input[type="range"]').is_disabled()
    finally:
        page.close()
