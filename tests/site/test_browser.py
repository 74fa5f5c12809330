"""The site in headless Chromium: charts render, sliders move them, no errors, no other hosts."""

import json

import pytest

from .conftest import CHAPTERS, SITE, toc_entries

RENDER_TIMEOUT_MS = 15_000


def open_page(browser, server, entry):
    """Load a page with every non-loopback request blocked; return it and what it logged."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = {"errors": [], "blocked": []}
    page.on("console", lambda m: log["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log["errors"].append(str(e)))

    def route(request_route):
        url = request_route.request.url
        if url.startswith(server) or url.startswith("data:") or url.startswith("blob:"):
            request_route.continue_()
        else:
            log["blocked"].append(url)
            request_route.abort()

    page.route("**/*", route)
    page.goto(f"{server}/{entry}.html", wait_until="load")
    return page, log


def wait_for_charts(page):
    n = page.locator(".r2t-chart").count()
    if n:
        page.wait_for_function(
            "n => document.querySelectorAll('.r2t-chart svg.marks').length >= n",
            arg=n, timeout=RENDER_TIMEOUT_MS,
        )
    return n


@pytest.fixture(scope="module")
def site_report():
    """Per page: bytes transferred and time until every chart rendered (a report, not a test:
    the target is 2 s served locally; see _build/site-report.json)."""
    report: dict[str, dict] = {}
    yield report
    path = SITE.parent / "site-report.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nper-page bytes and chart render times (written to {path}):")
    for entry, row in report.items():
        print(f"  {row['bytes'] / 1e6:6.2f} MB  {row['charts']:2d} charts  "
              f"{row['render_s']:5.2f} s  {entry}")


@pytest.mark.parametrize("entry", toc_entries())
def test_page_renders_every_chart_without_errors_or_other_hosts(browser, server, entry,
                                                                site_report):
    page, log = open_page(browser, server, entry)
    try:
        n = wait_for_charts(page)
        rendered = page.evaluate("performance.now()") / 1000
        transferred = page.evaluate(
            "performance.getEntriesByType('navigation').concat("
            "performance.getEntriesByType('resource'))"
            ".reduce((total, e) => total + (e.encodedBodySize || 0), 0)")
        site_report[entry] = {"bytes": transferred, "charts": n, "render_s": rendered}
        page.wait_for_timeout(300)  # let late console messages arrive
        for i in range(n):
            box = page.locator(".r2t-chart").nth(i).bounding_box()
            assert box and box["width"] > 100 and box["height"] > 100, f"chart {i} is empty"
        assert not page.locator(".r2t-chart:has-text('Chart error')").count()
        assert log["blocked"] == [], f"requests to other hosts: {log['blocked']}"
        assert log["errors"] == [], f"console errors: {log['errors']}"
    finally:
        page.close()



def redrawn(page, chart, before: str, timeout_ms: int) -> bool:
    """Whether the chart's SVG changes from ``before`` within the timeout."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function("([el, old]) => el.querySelector('svg').innerHTML !== old",
                               arg=[chart.element_handle(), before], timeout=timeout_ms)
        return True
    except PlaywrightTimeout:
        return False


def click_until_redrawn(page, chart, attempts: int = 12) -> bool:
    """Click a chart with a selection as a reader would: its first legend entry (a selection
    bound to the legend starts empty here, so a redraw means an entry was chosen), then the
    last item of each group of marks in turn (the first may be selected already). A mark's
    click counts only if the mark itself is drawn differently afterwards: a click that missed
    would also redraw a chart whose selection has a starting value, by clearing it."""
    legend = chart.locator("g.role-legend-symbol path")
    groups = chart.locator("g.role-mark")
    candidates = ([(legend.first, False)] if legend.count() else []) + [
        (groups.nth(i).locator(":scope > *").last, True)
        for i in range(min(groups.count(), attempts))]
    for target, must_change in candidates:
        before, drawn = chart.locator("svg").inner_html(), target.evaluate("e => e.outerHTML")
        target.click(force=True, timeout=2_000)
        if redrawn(page, chart, before, 2_000) and (
                not must_change or target.evaluate("e => e.outerHTML") != drawn):
            return True
    return False


@pytest.mark.parametrize("entry", CHAPTERS)
def test_every_slider_and_selection_moves_its_chart(browser, server, entry):
    """Every slider of every chart is moved to an end of its range, and every chart with a
    click or legend selection is clicked: each must redraw its chart. A chapter must have at
    least one of them."""
    page, _ = open_page(browser, server, entry)
    try:
        wait_for_charts(page)
        driven = 0
        charts = page.locator(".r2t-chart:has(input[type=range])")
        for i in range(charts.count()):
            chart = charts.nth(i)
            sliders = chart.locator("input[type=range]")
            for j in range(sliders.count()):
                slider = sliders.nth(j)
                before = chart.locator("svg").inner_html()
                low, high = slider.get_attribute("min"), slider.get_attribute("max")
                target = low if slider.input_value() != low else high
                slider.evaluate(
                    "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", target
                )
                assert redrawn(page, chart, before, 5_000), (
                    f"slider {j} of chart {i} ({slider.get_attribute('name')}) did not redraw it")
                driven += 1
        selecting = page.locator(".r2t-chart[data-selection]")
        for i in range(selecting.count()):
            assert click_until_redrawn(page, selecting.nth(i)), (
                f"the selection chart {i} did not redraw when clicked")
            driven += 1
        assert driven > 0, "a chapter should have at least one slider or selection"
    finally:
        page.close()
