"""Every implement exercise's solution, run through its own self-check.

Each chapter executes top to bottom at the smoke scale (``RNN2T_SCALE=smoke``) with two extra
steps after every self-check cell: the unfilled placeholder must have failed with its "Not done
yet" message, and the solution from the hidden solution block, put in the placeholder's place,
must pass the same check. A broken or stale solution, or a check that cannot fail, fails here.
Exercises are found by label (rnn2transformer.book.exercises.catalogue), so none can be skipped.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jupytext
import nbformat
import pytest

from rnn2transformer.book.exercises import catalogue

CHAPTERS = sorted((Path(__file__).parents[2] / "chapters").glob("*.md"))

# Before the chapter's own imports: record every result check_function returns.
RECORDER = """
import rnn2transformer.book.exercises as _exercises
_check_results = []
_original_check = _exercises.check_function
def _recording_check(*args, **kwargs):
    result = _original_check(*args, **kwargs)
    _check_results.append(result)
    return result
_exercises.check_function = _recording_check
"""


def without_definitions(source: str, names: set[str]) -> str:
    """``source`` without its top-level ``def``s of ``names``: a self-check cell minus the
    placeholder that a solution replaces."""
    drop = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            drop.update(range(node.lineno, node.end_lineno + 1))
    return "\n".join(line for n, line in enumerate(source.splitlines(), 1) if n not in drop)


def checked_name(source: str) -> str:
    """The name of the reader's function in a self-check cell: the one whose body is the
    placeholder ``raise NotImplementedError``."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and any(
                isinstance(inner, ast.Raise) for inner in ast.walk(node)):
            return node.name
    raise AssertionError(f"no placeholder function in:\n{source}")


# A wrong answer: the right one with one element moved (a number: plus one). Integer tensors
# come back as floats, so the move is not rounded away.
WRONG = """
_right = {name}
def {name}(*args, **kwargs):
    out = _right(*args, **kwargs)
    if not isinstance(out, torch.Tensor):
        return out + 1
    flat = out.detach().clone().reshape(-1).double()
    flat[flat.numel() // 2] += 0.25 * (flat[flat.numel() // 2].abs() + 1)
    return flat.reshape(out.shape).to(out.dtype if out.is_floating_point() else torch.float64)
"""


def with_solution_steps(chapter: Path) -> nbformat.NotebookNode:
    notebook = jupytext.read(chapter)
    implement = [e for e in catalogue(chapter) if e.kind == "Implement"]
    checks = {e.check: e for e in implement}
    cells, seen = [nbformat.v4.new_code_cell(RECORDER)], set()
    for cell in notebook.cells:
        cells.append(cell)
        exercise = checks.get(cell.source.strip()) if cell.cell_type == "code" else None
        if exercise is None:
            continue
        seen.add(exercise.label)
        label = exercise.label
        cells.append(nbformat.v4.new_code_cell(
            f"assert _check_results and not _check_results[-1].passed and 'Not done yet' in "
            f"_check_results[-1].message, ('{label}: the placeholder should fail with its Not "
            f"done yet message', _check_results[-1:])"))
        code = exercise.solution_code
        names = {n.name for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)}
        cells.append(nbformat.v4.new_code_cell(
            code + "\n\n" + without_definitions(cell.source, names)))
        cells.append(nbformat.v4.new_code_cell(
            f"assert _check_results[-1].passed, ('{label}: the solution fails its own check', "
            f"_check_results[-1].message)"))
        # A wrong answer: the solution's output, moved a little. The check must say where it
        # is wrong ("Not yet: ... gives ..., expected ...") rather than pass or crash.
        answer = checked_name(cell.source)
        cells.append(nbformat.v4.new_code_cell(
            WRONG.format(name=answer) + "\n" + without_definitions(cell.source, {answer})))
        cells.append(nbformat.v4.new_code_cell(
            f"assert not _check_results[-1].passed and _check_results[-1].message.startswith("
            f"'Not yet: '), ('{label}: a wrong answer is not reported as wrong', "
            f"_check_results[-1].message)\n{answer} = _right"))
    assert seen == {e.label for e in implement}, f"self-check cells not found: {implement}"
    notebook.cells = cells
    return notebook


# Chapters executed at a time, each in its own kernel (two cores: about the time of one)
JOBS = 2
EXECUTE = """
import sys, nbclient, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
try:
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": sys.argv[2]}}).execute()
except nbclient.exceptions.CellExecutionError as error:
    print(str(error)[-2500:])
    sys.exit(1)
"""


def has_implement(chapter: Path) -> bool:
    return any(e.kind == "Implement" for e in catalogue(chapter))


@pytest.fixture(scope="module")
def executed(request, tmp_path_factory) -> dict:
    """Every selected chapter with its solution steps, executed at the smoke scale
    :data:`JOBS` at a time when the first of their tests asks: chapter name -> None, or what
    failed."""
    folder = tmp_path_factory.mktemp("exercises")
    env = {k: v for k, v in os.environ.items() if k != "RNN2T_PACKAGE_SOURCE"}
    env.update(RNN2T_SCALE="smoke", RNN2T_DEVICE="cpu", RNN2T_BOOK_BUILD="1",
               RNN2T_CACHE_DIR=str(folder / "cache"))
    chapters = [c for c in request.session.items if getattr(c, "callspec", None)]
    chapters = [c.callspec.params["chapter"] for c in chapters if "chapter" in c.callspec.params]

    def run(chapter: Path):
        notebook = folder / f"{chapter.stem}.ipynb"
        nbformat.write(with_solution_steps(chapter), notebook)
        result = subprocess.run([sys.executable, "-c", EXECUTE, str(notebook),
                                 str(chapter.parent)], env=env, capture_output=True, text=True)
        return chapter.name, (None if result.returncode == 0 else
                              (result.stdout + result.stderr)[-3000:])

    with ThreadPoolExecutor(max_workers=JOBS) as pool:  # threads that wait on subprocesses
        return dict(pool.map(run, [c for c in dict.fromkeys(chapters) if has_implement(c)]))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_solution_passes_its_check_and_every_placeholder_fails(chapter, executed):
    if not has_implement(chapter):
        pytest.skip(f"{chapter.name} has no implement exercise")
    if executed[chapter.name] is not None:
        pytest.fail(f"{chapter.name}: {executed[chapter.name]}")
