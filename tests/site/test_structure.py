"""The built pages' structure, read with an HTML parser: every chart is a captioned figure,
headings nest in order, and each chapter's download links give its notebook and its source."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

import nbformat
import pytest
from bs4 import BeautifulSoup

from .conftest import CHAPTERS, ROOT, toc_entries


def soup(site: Path, entry: str) -> BeautifulSoup:
    return BeautifulSoup((site / f"{entry}.html").read_text(), "html.parser")


def article(page: BeautifulSoup):
    """The page's own content, without the theme's navigation."""
    body = page.find("article", class_="bd-article")
    assert body is not None, "no <article class='bd-article'> in the page"
    return body


@pytest.mark.parametrize("entry", CHAPTERS)
def test_every_chart_is_a_numbered_figure_with_a_caption(site, entry):
    charts = article(soup(site, entry)).find_all("div", class_="r2t-chart")
    assert charts, f"{entry} has no charts"
    for chart in charts:
        figure = chart.find_parent("figure")
        assert figure is not None, f"chart {chart['id']} is not inside a <figure>"
        caption = figure.find("figcaption")
        assert caption is not None, f"chart {chart['id']} has no caption"
        text = caption.get_text(" ", strip=True)
        assert text.startswith("Fig."), f"caption of {chart['id']} is not numbered: {text!r}"
        assert len(text.split()) >= 8, f"caption of {chart['id']} says too little: {text!r}"
        assert figure.get("id", "").startswith("fig-"), "a figure without a name to link to"


@pytest.mark.parametrize("entry", toc_entries())
def test_headings_nest_in_order(site, entry):
    headings = article(soup(site, entry)).find_all(["h1", "h2", "h3", "h4", "h5", "h6"])
    levels = [int(h.name[1]) for h in headings]
    assert levels and levels[0] == 1, f"{entry} does not start with one <h1>: {levels[:3]}"
    assert levels.count(1) == 1, f"{entry} has {levels.count(1)} <h1> headings"
    for heading, before, level in zip(headings[1:], levels[:-1], levels[1:], strict=True):
        assert level <= before + 1, (
            f"{entry}: <h{level}> {heading.get_text(strip=True)!r} follows an <h{before}>"
        )


def download_links(page: BeautifulSoup, entry: str) -> dict[str, str]:
    links = {}
    for a in page.select(".dropdown-download-buttons a, a.btn-download-notebook-button,"
                         " a.btn-download-source-button"):
        href = a.get("href", "")
        if href.endswith((".ipynb", ".md")):
            links[Path(href).suffix] = urljoin(f"/{entry}.html", href).lstrip("/")
    return links


@pytest.mark.parametrize("entry", CHAPTERS)
def test_download_links_give_the_launch_notebook_and_the_source(site, entry):
    links = download_links(soup(site, entry), entry)
    assert set(links) == {".ipynb", ".md"}, f"download links found: {links}"

    source = site / links[".md"]
    assert source.exists(), f"the .md download ({links['.md']}) is not in the site"
    assert source.read_text() == (ROOT / f"{entry}.md").read_text()

    # The same output-free notebook Colab and Binder open (book/_ext/paired_downloads.py),
    # whether this build executed the chapter or took it from the cache.
    notebook_file = site / links[".ipynb"]
    assert notebook_file.exists(), f"the .ipynb download ({links['.ipynb']}) is not in the site"
    assert notebook_file.read_bytes() == (ROOT / f"{entry}.ipynb").read_bytes()
    notebook = nbformat.read(notebook_file, as_version=4)
    nbformat.validate(notebook)  # raises if it would not open in Jupyter or Colab
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] for c in code)
