"""A chapter notebook with its implement exercises done, the way the launched-notebook tests
execute it: after every self-check cell, the unfilled placeholder must have failed with its
"Not done yet" message, the hidden solution put in the placeholder's place must pass the same
check, and a wrong answer (the solution's output moved a little) must be reported as wrong.
Then every name the steps defined is put back as the reader's unfilled notebook has it, so the
cells after an exercise run as a reader's would. A broken or stale solution, or a check that
cannot fail, fails the chapter's run. Exercises are found by label
(rnn2transformer.book.exercises.catalogue), so none can be skipped.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat

from rnn2transformer.book.exercises import catalogue

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
_MISSING = object()
"""

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


def has_implement(chapter: Path) -> bool:
    return any(e.kind == "Implement" for e in catalogue(chapter))


def with_solution_steps(notebook: nbformat.NotebookNode,
                        chapter: Path) -> nbformat.NotebookNode:
    """``notebook`` (chapter ``chapter``'s, as .ipynb) with the steps of the module docstring
    after each of its self-check cells; the recorder goes after the cell that installs the
    package (the first one naming RNN2T_PACKAGE_SOURCE), before the chapter's imports."""
    implement = [e for e in catalogue(chapter) if e.kind == "Implement"]
    checks = {e.check: e for e in implement}
    cells, seen = [], set()
    recorder = nbformat.v4.new_code_cell(RECORDER)
    installs = [c for c in notebook.cells
                if c.cell_type == "code" and "RNN2T_PACKAGE_SOURCE" in c.source]
    if not implement:
        return notebook
    if not installs:
        cells.append(recorder)
    for cell in notebook.cells:
        cells.append(cell)
        if installs and cell is installs[0]:
            cells.append(recorder)
        exercise = checks.get(cell.source.strip()) if cell.cell_type == "code" else None
        if exercise is None:
            continue
        seen.add(exercise.label)
        label, code = exercise.label, exercise.solution_code
        answer = checked_name(cell.source)
        names = {n.name for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)}
        keep = sorted(names | {answer, "_right"})
        cells.append(nbformat.v4.new_code_cell(
            f"assert _check_results and not _check_results[-1].passed and 'Not done yet' in "
            f"_check_results[-1].message, ('{label}: the placeholder should fail with its Not "
            f"done yet message', _check_results[-1:])\n"
            f"_reader = {{n: globals().get(n, _MISSING) for n in {keep!r}}}"))
        cells.append(nbformat.v4.new_code_cell(
            code + "\n\n" + without_definitions(cell.source, names)))
        cells.append(nbformat.v4.new_code_cell(
            f"assert _check_results[-1].passed, ('{label}: the solution fails its own check', "
            f"_check_results[-1].message)"))
        # A wrong answer: the solution's output, moved a little. The check must say where it
        # is wrong ("Not yet: ... gives ..., expected ...") rather than pass or crash.
        cells.append(nbformat.v4.new_code_cell(
            WRONG.format(name=answer) + "\n" + without_definitions(cell.source, {answer})))
        cells.append(nbformat.v4.new_code_cell(
            f"assert not _check_results[-1].passed and _check_results[-1].message.startswith("
            f"'Not yet: '), ('{label}: a wrong answer is not reported as wrong', "
            f"_check_results[-1].message)\n"
            "for _name, _value in _reader.items():  # the reader's unfilled notebook again\n"
            "    if _value is _MISSING:\n"
            "        globals().pop(_name, None)\n"
            "    else:\n"
            "        globals()[_name] = _value"))
    assert seen == {e.label for e in implement}, (
        f"{chapter.name}: self-check cells not found in the notebook: "
        f"{sorted({e.label for e in implement} - seen)}")
    notebook = nbformat.from_dict(notebook)  # a copy: the caller's notebook is unchanged
    notebook.cells = cells
    return notebook
