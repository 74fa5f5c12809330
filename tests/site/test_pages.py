"""The built HTML, read as files: every page is there, executed, and self-contained."""

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

from .conftest import CHAPTERS, ROOT, toc_entries

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "cdn.plot.ly")


def page(site: Path, entry: str) -> str:
    return (site / f"{entry}.html").read_text()


@pytest.mark.parametrize("entry", toc_entries())
def test_every_toc_entry_is_built(site, entry):
    assert (site / f"{entry}.html").exists()


@pytest.mark.parametrize("entry", CHAPTERS)
def test_chapter_has_executed_outputs_and_no_errors(site, entry):
    html = page(site, entry)
    assert html.count('class="cell_output') >= 3, "the chapter seems not to be executed"
    assert "Traceback" not in html and 'class="output traceback' not in html
    assert "output stderr" not in html, "a cell wrote to stderr (a warning?)"
    assert "{glue" not in html, "a glue reference was not resolved"


@pytest.mark.parametrize("entry", CHAPTERS)
def test_launch_links_open_notebooks_that_exist(site, entry):
    html = page(site, entry)
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    links = re.findall(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)[^"]+)"',
                       html)
    assert any("colab" in link for link in links) and any("mybinder" in link for link in links)
    for link in links:
        link = unquote(link.replace("&amp;", "&"))
        assert repo in link, f"{link} does not point at {repo}"
        target = re.search(r"(chapters/[\w.-]+\.ipynb)", link)
        assert target, f"{link} does not open a notebook"
        assert (ROOT / target.group(1)).exists(), f"{target.group(1)} is not in the repository"


@pytest.mark.parametrize("entry", [e for e in toc_entries() if e not in CHAPTERS])
def test_pages_without_a_notebook_have_no_launch_buttons(site, entry):
    """Colab cannot open a Markdown page (the benchmarks appendix is executed, not paired)."""
    html = page(site, entry)
    assert "colab.research.google.com/github" not in html and "mybinder.org/v2/gh" not in html


@pytest.mark.parametrize("entry", toc_entries())
def test_no_script_or_stylesheet_comes_from_another_host(site, entry):
    html = page(site, entry)
    for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html):
        host = urlparse(url).netloc
        assert not host, f"{entry} loads {url} from {host}"
    for host in CDN_HOSTS:
        assert host not in html, f"{entry} mentions {host}"


@pytest.mark.parametrize("entry", toc_entries())
def test_pages_load_no_widget_scripts(site, entry):
    html = page(site, entry)
    assert "require.min.js" not in html and "html-manager" not in html
    assert "application/vnd.jupyter.widget-state+json" not in html


def test_vega_bundle_and_mathjax_are_served(site):
    assert (site / "_static" / "vega-bundle.js").stat().st_size > 500_000
    assert (site / "_static" / "mathjax" / "tex-mml-chtml.js").exists()
    chapter = page(site, CHAPTERS[0])
    assert "_static/vega-bundle.js" in chapter and "_static/mathjax/tex-mml-chtml.js" in chapter
