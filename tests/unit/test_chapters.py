"""The chapters as files: pairing with their notebooks, the Colab cell, the table of contents."""

import ast
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

import rnn2transformer

ROOT = Path(__file__).parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files():
    files = [TOC["root"]]
    for part in TOC.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def cells(notebook):
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


def test_there_are_chapters():
    assert CHAPTERS, "no chapters/*.md found"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_markdown_and_notebook_are_in_sync(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `make notebooks`"
    assert cells(jupytext.read(md)) == cells(nbformat.read(ipynb, as_version=4)), (
        f"{ipynb.name} is out of sync with {md.name}: run `make notebooks`"
    )


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(md):
    notebook = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_first_code_cell_installs_from_the_configured_repository(md):
    first = next(c for c in jupytext.read(md).cells if c.cell_type == "code")
    assert "remove-cell" in first.metadata.get("tags", [])
    assert "google.colab" in first.source and "%pip install" in first.source
    assert f'"git+{CONFIG["repository"]["url"]}"' in first.source
    assert "torch" not in first.source.split("%pip install", 1)[1]  # never reinstall torch


def test_every_toc_entry_exists_and_every_chapter_is_listed():
    for entry in toc_files():
        assert (ROOT / f"{entry}.md").exists(), f"_toc.yml lists {entry}, which does not exist"
    listed = set(toc_files())
    for md in CHAPTERS:
        assert f"chapters/{md.stem}" in listed, f"{md.name} is not in _toc.yml"


def package_names():
    names = set()
    for path in Path(rnn2transformer.__path__[0]).rglob("*.py"):  # models/ and book/ too
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
                names.add(node.name)
    return names


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_chapters_use_the_package_instead_of_copying_it(md):
    code = "\n".join(c.source for c in jupytext.read(md).cells if c.cell_type == "code")
    assert "from rnn2transformer" in code
    defined = set(re.findall(r"^(?:def|class) (\w+)", code, re.M))
    copied = defined & package_names()
    assert not copied, f"{md.name} redefines package code: {sorted(copied)}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_no_cell_ends_in_a_value_nobody_asked_to_see(md):
    """A cell whose last line is glue(...) or a self-check shows a stray value under it (the
    glued number, a `False`); glue returns its value so it can be kept, not shown."""
    for cell in jupytext.read(md).cells:
        if cell.cell_type != "code" or "skip-execution" in cell.metadata.get("tags", []):
            continue
        source = "\n".join(line for line in cell.source.splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        body = ast.parse(source).body
        if body and isinstance(body[-1], ast.Expr) and isinstance(body[-1].value, ast.Call):
            called = body[-1].value.func
            assert getattr(called, "id", None) != "glue", (
                f"{md.name}: a cell ends in glue(...), which shows the glued value on the page")


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_glue_from_another_chapter_names_a_format(md):
    """myst-nb reads `{glue:text}`04_lstm.md::key`` as the key '04_lstm.md:' with the format
    'key': a reference to another chapter's value needs its own format (`::key:s`)."""
    for key in re.findall(r"\{glue:text\}`([^`]*)`", md.read_text()):
        if "::" in key:
            assert ":" in key.split("::", 1)[1], f"{md.name}: {key!r} needs a format, e.g. ':s'"


@pytest.mark.slow
def test_a_cell_that_hangs_fails_the_build_naming_the_chapter_and_the_cell(tmp_path):
    """The book's cell timeout (_config.yml) is long so that a slow cell on a busy laptop
    finishes; what it must still do is stop a hung kernel and say where. A two-page book with
    the same execution settings and a five-second timeout shows what a reader would see."""
    import subprocess
    import sys

    execute = {**CONFIG["execute"], "timeout": 5, "execute_notebooks": "force"}
    execute.pop("cache", None)
    (tmp_path / "_config.yml").write_text(yaml.safe_dump({"title": "t", "execute": execute}))
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(
        {"format": "jb-book", "root": "intro", "chapters": [{"file": "stuck"}]}))
    (tmp_path / "intro.md").write_text("# Intro\n")
    (tmp_path / "stuck.md").write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\nkernelspec:\n"
        "  name: python3\n  display_name: Python 3\n---\n# Stuck\n\n"
        "```{code-cell} ipython3\nimport time\ntime.sleep(600)  # never finishes\n```\n")
    book = Path(sys.executable).with_name("jupyter-book")
    done = subprocess.run([str(book), "build", str(tmp_path), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=240)
    log = done.stdout + done.stderr
    assert done.returncode != 0
    assert "CellTimeoutError" in log and "stuck.md" in log  # the chapter
    assert "time.sleep(600)" in log  # and the cell, by its first lines
    assert CONFIG["execute"]["timeout"] >= 1800  # while the book's own timeout waits long
