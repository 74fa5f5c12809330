"""Sphinx extension: a page's notebook buttons give the chapter's paired notebook, or nothing.

Launch buttons (Colab, Binder) appear only on pages with a paired ``.ipynb``: the theme adds
them to every page executed as a notebook, and on the benchmarks appendix (a MyST notebook with
no paired ``.ipynb``) Colab would be asked to open a Markdown file, which it cannot.

myst-nb copies into ``_sources`` the notebook it rendered, and that copy has outputs only when
the chapter was executed in this build: when the outputs come from the execution cache, it
writes the notebook before merging them in. The download would differ between a cold and a warm
build. Executed outputs would not help a reader either: their charts call the site's own
``vegaEmbed``, which Jupyter does not have. So every build serves the notebook that Colab and
Binder open: ``chapters/NN_name.ipynb``, output-free and kept in step with the ``.md`` by
jupytext (``make notebooks``).
"""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_paired_notebooks(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for docname in sorted(app.env.found_docs):
        paired = Path(app.srcdir, f"{docname}.ipynb")
        served = Path(app.outdir, "_sources", f"{docname}.ipynb")
        if paired.exists() and served.exists():
            shutil.copyfile(paired, served)


def launch_only_where_a_notebook_exists(app, pagename, templatename, context, doctree):
    """Drop the theme's launch-button group from pages without a paired notebook."""
    if Path(app.srcdir, f"{pagename}.ipynb").exists() or "header_buttons" not in context:
        return
    context["header_buttons"] = [button for button in context["header_buttons"]
                                 if button.get("label") != "launch-buttons"]


def setup(app):
    app.connect("build-finished", copy_paired_notebooks)
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", launch_only_where_a_notebook_exists, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
