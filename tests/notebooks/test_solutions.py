"""Every implement exercise's solution, run through its own self-check, in the launched run of
its chapter (conftest.launched executes each chapter notebook once, in Colab's environment at
the smoke scale, with the steps of solution_steps.py after every self-check cell: the
placeholder fails with "Not done yet", the hidden solution passes, a wrong answer is reported
as wrong). A broken or stale solution, or a check that cannot fail, fails here."""

from __future__ import annotations

import pytest

from .conftest import ROOT
from .solution_steps import has_implement

NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_solution_passes_its_check_and_every_placeholder_fails(notebook, launched):
    if not has_implement(notebook.with_suffix(".md")):
        pytest.skip(f"{notebook.stem} has no implement exercise")
    result = launched[notebook.name]
    if isinstance(result, AssertionError):
        raise result
