"""The PDF edition (`make pdf` writes _build/book.pdf): a new page for every chapter, every
chart present as a figure, every glyph in the fonts. Also writes _build/pdf-report.json."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml
from pypdf import PdfReader

from rnn2transformer.book.buildinfo import executed_notebooks
from tests.site.conftest import CHAPTERS, ROOT, toc_entries

BUILD = ROOT / "_build"
PDF = BUILD / "book.pdf"
LATEX = BUILD / "pdf" / "_build" / "latex"


MIN_CHAPTER_PAGES = 6
ORDINALS = ("one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen").split()  # how the PDF's chapter heads spell the number


def chapter_title(entry: str) -> str:
    source = (ROOT / f"{entry}.md").read_text()
    return re.search(r"^# (.+)$", source, re.M).group(1).strip()


@pytest.fixture(scope="module")
def reader() -> PdfReader:
    if not PDF.exists():
        pytest.fail(f"{PDF} is missing: run `make pdf` first")
    return PdfReader(PDF)


def pdf_text(first: int | None = None, last: int | None = None) -> str:
    """The text of pages first..last (counting from 1; default all) as poppler reads it."""
    pages = [arg for flag, n in (("-f", first), ("-l", last)) if n for arg in (flag, str(n))]
    return subprocess.run(["pdftotext", *pages, "-layout", str(PDF), "-"],
                          check=True, capture_output=True, text=True).stdout


def outline_pages(reader: PdfReader) -> dict[str, int]:
    """Every bookmark's title and the page it points at."""
    found = {}

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                found[" ".join(item.title.split())] = reader.get_destination_page_number(item)

    walk(reader.outline)
    return found


@pytest.fixture(scope="module")
def executed() -> dict[str, nbformat.NotebookNode]:
    """The executed chapters the PDF was built from (from the execution cache), by toc entry."""
    notebooks = executed_notebooks(BUILD)
    return {str(Path(name).with_suffix("")): notebook for name, notebook in notebooks.items()}


def chart_outputs(notebook: nbformat.NotebookNode) -> tuple[int, int]:
    """How many outputs are charts, and how many of those carry a static PDF."""
    outputs = [output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])]
    charts = [data for data in outputs if "r2t-chart" in str(data.get("text/html", ""))]
    return len(charts), sum("application/pdf" in data for data in charts)


def test_every_chapter_starts_on_a_page_of_its_own(reader):
    bookmarks = outline_pages(reader)
    starts = []
    for number, entry in enumerate(CHAPTERS):
        title = " ".join(chapter_title(entry).split())
        assert title in bookmarks, f"no bookmark for {title!r}; bookmarks: {list(bookmarks)}"
        start = bookmarks[title]
        page = pdf_text(start + 1, start + 1)
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        # The chapter's opening page begins with its label and title ("CHAPTER SEVEN THE
        # TRANSFORMER: ..."): nothing of the page before runs onto it.
        head = " ".join(" ".join(lines[:6]).split()).casefold()  # a title may wrap
        label = f"chapter {ORDINALS[number]} {title.casefold()}"
        assert head.startswith(label), f"page {start + 1} begins {head[:80]!r}, not {label!r}"
        starts.append(start)
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    # each chapter's text, code, figures and exercises fill 12 pages or more (2026-12-06); one
    # of a few pages has lost its content (the last chapter's end is the appendices' start)
    spans = [after - before for before, after in zip(starts, starts[1:], strict=False)]
    assert min(spans) >= MIN_CHAPTER_PAGES, f"chapters span {spans} pages"


def contents_text() -> str:
    pages = pdf_text(1, 8)
    assert "CONTENTS" in pages.upper()
    return pages


def test_chapters_keep_the_numbers_the_text_uses():
    # The text says "chapter 7"; front matter must not shift the count, and appendices are
    # lettered (book/latex/rnn2transformer.sty).
    contents = contents_text()
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    front = {entry["file"] for part in toc["parts"] if part["caption"] == "Getting started"
             for entry in part["chapters"]}
    appendices = [entry for entry in toc_entries() if entry.startswith("book/")
                  and entry not in {"book/intro", "book/bibliography", *front}]
    labels = [(str(n), entry) for n, entry in enumerate(CHAPTERS, 1)]
    labels += [(chr(ord("A") + i), entry) for i, entry in enumerate(appendices)]
    for label, entry in labels:
        start = re.escape(chapter_title(entry)[:25])
        assert re.search(rf"^\s*{label}\s+{start}", contents, re.M), (
            f"{entry} is not listed as {label} in the table of contents")
    for entry in front:  # front matter is not numbered
        title = re.escape(chapter_title(entry)[:25])
        assert not re.search(rf"^\s*\d+\s+{title}", contents, re.M), entry


def test_every_chart_is_a_figure_in_the_pdf(reader, executed):
    expected = 0
    for entry in CHAPTERS:
        charts, static = chart_outputs(executed[entry])
        assert charts > 0, f"{entry}: no charts in its executed notebook"
        assert static == charts, f"{entry}: {charts - static} of {charts} charts have no PDF"
        expected += charts
    tex = (LATEX / "book.tex").read_text()
    # Sphinx writes \sphinxincludegraphics{{name}.pdf} (braces guard dots in the name).
    included = re.findall(r"\\sphinxincludegraphics(?:\[[^\]]*\])?\{\{([^{}]+)\}(\.\w+)\}", tex)
    charts = [name + suffix for name, suffix in included if suffix == ".pdf"]
    assert len(charts) == expected, f"{expected} charts executed, {len(charts)} in book.tex"
    for name in charts:
        assert (LATEX / name).exists(), f"book.tex includes {name}, which was not written"
    # Each chart is a figure with a caption.
    assert len(re.findall(r"\\begin\{figure\}", tex)) >= expected
    assert len(re.findall(r"\\caption\{", tex)) >= expected
    # ... and each reached the PDF, where an included PDF becomes a form XObject.
    forms = 0
    for page in reader.pages:
        xobjects = page.get("/Resources", {}).get("/XObject", {})
        forms += sum(xobjects[key].get_object().get("/Subtype") == "/Form" for key in xobjects)
    assert forms >= expected, f"{expected} charts, but only {forms} embedded graphics"


def test_no_chart_is_left_as_code_text_or_a_script():
    text = pdf_text()
    for leftover in ("alt.Chart(", "alt.HConcatChart(", "alt.LayerChart(", "VegaLite",
                     "vegaEmbed", "This chart needs", "<IPython.core"):
        assert leftover not in text, f"the PDF shows {leftover!r} where a figure belongs"


def test_latex_found_every_file_and_glyph():
    log = (LATEX / "book.log").read_text(errors="replace")
    assert not re.search(r"File `[^']+' not found", log)
    missing = sorted(set(re.findall(r"Missing character: There is no (\S+)", log)))
    assert not missing, f"characters the fonts lack (printed as blanks): {missing}"
    undefined = re.findall(r"LaTeX Warning: (?:Reference|Citation) `([^']+)' .*undefined", log)
    assert not undefined, f"cross-references LaTeX could not resolve: {undefined}"


def test_report(reader, executed):
    seconds = json.loads((BUILD / "pdf-time.json").read_text())["seconds"]
    report = {"pages": len(reader.pages), "bytes": PDF.stat().st_size,
              "make_pdf_seconds": seconds,
              "charts": sum(chart_outputs(executed[entry])[0] for entry in CHAPTERS)}
    (BUILD / "pdf-report.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\nPDF:", report)
