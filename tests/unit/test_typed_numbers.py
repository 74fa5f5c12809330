"""No measured result is typed into the prose: every decimal and percentage a chapter states
comes from glue, unless it is a fixed fact listed here (a setting, a constant, a paper's figure).

The scan covers the chapters' Markdown cells (exercises and solutions included) after removing
code, inline code, glued values, citations, math and directive options.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))

# Fixed facts, not results: each with why it may be typed.
ALLOWED = {
    "12.5%": "guessing one of eight symbols (1/8), a property of the copy task",
    "50%": "chance on chapter 2's order task, which pairs every line with its shuffled twin",
    "0.01": "the validation MSE the book calls solving the adding problem (a setting)",
    "90%": "chapter 2's train/test split of the corpus (a setting)",
    "10%": "chapter 2's train/test split of the corpus (a setting)",
    "8%": "chapter 11: Nemotron-H's share of attention layers, as its authors report it",
    "75%": "chapter 11: Kimi Linear's reduction of the key-value cache, as its authors report it",
    "0.5": "chapter 11: the recall error an exercise asks the reader to find (a threshold)",
}

NUMBER = re.compile(r"(?<![\w.])\d+\.\d+%?|(?<![\w.])\d+%")
STRIP = [
    # fenced code (three backticks; four open a directive whose body is prose and is kept)
    re.compile(r"^```(?!`)[^\n]*\n.*?^```\s*$", re.S | re.M),
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\$[^$\n]+\$"),  # inline math
    re.compile(r"\{[\w:-]+\}`[^`]*`"),  # roles: {glue:text}`x:.2f`, {cite:p}`...`, {numref}
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"^:[\w-]+:.*$", re.M),  # directive options (:label:, :class:)
    re.compile(r"\[[^\]]*\]\([^)]*\)"),  # links (their targets hold version numbers)
]


def typed_numbers(markdown: str) -> list[str]:
    for pattern in STRIP:
        markdown = pattern.sub(" ", markdown)
    return [m for m in NUMBER.findall(markdown) if m not in ALLOWED]


def prose_cells(md: Path) -> list[str]:
    """The Markdown cells of a chapter: the prose these scans read."""
    return [cell.source for cell in jupytext.read(md).cells if cell.cell_type == "markdown"]


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_no_result_is_typed_into_the_prose(md):
    found = [number for source in prose_cells(md) for number in typed_numbers(source)]
    assert not found, (f"{md.name} types these numbers into its prose; glue them from the cell "
                       f"that computes them, or list a fixed fact in ALLOWED: {found}")


def test_the_scan_finds_a_typed_result_and_ignores_glued_math_and_code():
    assert typed_numbers("the LSTM reaches 2.51 bits and 39% of tokens") == ["2.51", "39%"]
    assert typed_numbers("it reaches {glue:text}`bpc:.2f` bits, $0.25$ and `lr=3e-3`, "
                         "{cite:p}`kaplan2020scaling`,\n```python\nx = 0.5\n```\n") == []
    # a solution directive's prose is still read, its code block is not
    assert typed_numbers("````{solution} ex\nIt is 0.75.\n```python\ny = 0.5\n```\n````") == [
        "0.75"]
    assert typed_numbers("guessing gives 12.5% of them") == []
