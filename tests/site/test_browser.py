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



@pytest.mark.parametrize("entry", CHAPTERS)
def test_every_slider_moves_its_chart(browser, server, entry):
    page, _ = open_page(browser, server, entry)
    try:
        wait_for_charts(page)
        charts = page.locator(".r2t-chart:has(input[type=range])")
        interactive = charts.count() + page.locator(".r2t-chart[data-selection]").count()
        assert interactive > 0, "a chapter should have at least one slider or selection"
        for i in range(charts.count()):
            chart = charts.nth(i)
            before = chart.locator("svg").inner_html()
            slider = chart.locator("input[type=range]").first
            low, high = slider.get_attribute("min"), slider.get_attribute("max")
            current = slider.input_value()
            target = low if current != low else high
            slider.evaluate(
                "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", target
            )
            page.wait_for_function(
                "([el, old]) => el.querySelector('svg').innerHTML !== old",
                arg=[chart.element_handle(), before], timeout=5_000,
            )
    finally:
        page.close()
