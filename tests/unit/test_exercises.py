"""The exercises' catalogue: enough of them, each labelled with its kind, each with a hidden
solution, and every implement exercise with a self-check cell and solution code (which
the launched-notebook run checks, tests/notebooks/test_solutions.py)."""

from pathlib import Path

import pytest

from rnn2transformer.book.exercises import KINDS, catalogue

CHAPTERS = sorted((Path(__file__).parents[2] / "chapters").glob("*.md"))
ALL = [e for chapter in CHAPTERS for e in catalogue(chapter)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_at_least_five_exercises(chapter):
    assert len(catalogue(chapter)) >= 5, chapter.name


@pytest.mark.parametrize("exercise", ALL, ids=lambda e: e.label)
def test_every_exercise_names_its_kind_and_has_a_hidden_solution(exercise):
    assert exercise.kind in KINDS, (f"{exercise.label}: the title {exercise.title!r} must start "
                                    f"with one of {[k + ':' for k in KINDS]}")
    assert exercise.solution is not None, f"{exercise.label} has no {{solution}} block"
    assert ":class: dropdown" in exercise.solution, f"{exercise.label}: hide the solution"


@pytest.mark.parametrize("exercise", [e for e in ALL if e.kind == "Implement"],
                         ids=lambda e: e.label)
def test_implement_exercises_have_a_self_check_and_solution_code(exercise):
    assert exercise.check is not None, (
        f"{exercise.label}: the code cell after an implement exercise must call check_function")
    assert "NotImplementedError" in exercise.check, f"{exercise.label}: no placeholder"
    assert exercise.solution_code, f"{exercise.label}: the solution needs a ```python block"


def test_the_book_has_every_kind_and_unique_labels():
    assert {e.kind for e in ALL} == set(KINDS)
    labels = [e.label for e in ALL]
    assert len(labels) == len(set(labels))


def test_the_catalogue_reads_kind_solution_and_check(tmp_path):
    chapter = tmp_path / "chapter.md"
    chapter.write_text(
        "````{exercise} Implement: twice\n:label: ex-twice\n\nWrite it.\n````\n\n"
        "```{code-cell} ipython3\ndef twice(x):\n    raise NotImplementedError\n\n\n"
        "check_function(twice, lambda x: 2 * x, [x])\n```\n\n"
        "````{solution} ex-twice\n:class: dropdown\n\n```python\ndef twice(x):\n"
        "    return 2 * x\n```\n````\n\n"
        "````{exercise} Why?\n:label: ex-why\n\nSay.\n````\n")
    first, second = catalogue(chapter)
    assert (first.kind, first.label, first.text) == ("Implement", "ex-twice", "Write it.")
    assert first.check.startswith("def twice") and first.solution_code.strip().endswith("2 * x")
    assert (second.kind, second.solution, second.check) == (None, None, None)
    with pytest.raises(ValueError, match="chapter's .md file"):
        catalogue(tmp_path / "missing.md")
