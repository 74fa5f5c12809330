"""The book's exercises: the self-check cells and the catalogue of every exercise.

Self-check: a reader writes a function and :func:`check_function` compares it with a reference.
References are computed (by autograd or by the package's own implementation), never typed-in
numbers, so a check cannot pass by copying an answer.

Catalogue: :func:`catalogue` finds every exercise of a chapter by its label. Each is a
``{exercise}`` directive whose title starts with its kind, one of :data:`KINDS`, and whose
``{solution}`` (hidden behind a toggle) names the same label. An *implement* exercise is
followed by its self-check cell and its solution holds the code that passes it; the test suite
runs every such solution through its check, and "How to study with this book" counts them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

KINDS = ("Derive", "Implement", "Experiment", "Read the figure")
_EXERCISE = re.compile(r"^````\{exercise\}\s+(?P<title>[^\n]*)\n:label:\s+(?P<label>\S+)\n"
                       r"(?P<body>.*?)^````\s*$", re.S | re.M)
_SOLUTION = re.compile(r"^````\{solution\}\s+(?P<label>\S+)\n(?P<body>.*?)^````\s*$",
                       re.S | re.M)
_CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(?P<body>.*?)^```\s*$", re.S | re.M)
_PYTHON = re.compile(r"^```python\n(?P<code>.*?)^```\s*$", re.S | re.M)


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter, as :func:`catalogue` finds it."""

    label: str
    title: str
    kind: str | None  # one of KINDS, or None when the title names none
    text: str  # the exercise's own text
    solution: str | None  # the body of its {solution} block
    check: str | None  # the self-check cell that follows an implement exercise

    @property
    def solution_code(self) -> str | None:
        """The Python code of the solution (implement exercises), or None."""
        match = _PYTHON.search(self.solution or "")
        return match.group("code") if match else None


def catalogue(chapter: str | Path) -> list[Exercise]:
    """Every exercise in the MyST Markdown file ``chapter``, in order."""
    path = Path(chapter)
    if path.suffix != ".md" or not path.is_file():
        raise ValueError(f"chapter must be a chapter's .md file, got {str(chapter)!r}")
    text = path.read_text()
    solutions = {m.group("label"): m.group("body") for m in _SOLUTION.finditer(text)}
    found = list(_EXERCISE.finditer(text))
    result = []
    for n, match in enumerate(found):
        title, label = match.group("title").strip(), match.group("label")
        kind = next((k for k in KINDS if title.startswith(k + ":")), None)
        check = None
        if kind == "Implement":  # the first code cell after the exercise, before the next one
            until = found[n + 1].start() if n + 1 < len(found) else len(text)
            cell = _CODE_CELL.search(text, match.end(), until)
            if cell and "check_function(" in cell.group("body"):
                lines = cell.group("body").splitlines()
                while lines and lines[0].startswith(":"):  # cell options (:tags:)
                    lines.pop(0)
                check = "\n".join(lines).strip()
        result.append(Exercise(label, title, kind, match.group("body").strip(),
                               solutions.get(label), check))
    return result


@dataclass(frozen=True)
class CheckResult:
    """What a self-check found. True when it passed; the message is printed once, and as the
    last line of a cell the result itself shows nothing more (no stray ``False``)."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:  # the printed line is the cell's whole output
        pass


def autograd_derivative(f: Callable[[torch.Tensor], torch.Tensor]) -> Callable:
    """The elementwise derivative of ``f``, computed by autograd."""
    if not callable(f):
        raise TypeError(f"f must be a function tensor -> tensor, got {type(f).__name__}")

    def derivative(z: torch.Tensor) -> torch.Tensor:
        z = z.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(f(z).sum(), z)
        return grad

    return derivative


def check_function(
    answer: Callable,
    reference: Callable,
    inputs: Sequence[torch.Tensor],
    *,
    name: str = "your function",
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> CheckResult:
    """Compare ``answer(x)`` with ``reference(x)`` for every ``x`` in ``inputs``.

    Prints one line saying what it found (not done yet, an error, the first mismatch, or a
    pass) and returns a :class:`CheckResult`, true when every input matched.
    """
    result = _compare(answer, reference, inputs, name=name, atol=atol, rtol=rtol)
    print(result.message)
    return result


def _compare(answer, reference, inputs, *, name, atol, rtol) -> CheckResult:
    if not callable(answer) or not callable(reference):
        raise TypeError("answer and reference must both be functions")
    if len(inputs) == 0:
        raise ValueError("inputs must hold at least one tensor, got none")
    for number, x in enumerate(inputs, 1):  # before any is run: the reader is not to blame
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"inputs must be tensors, got {type(x).__name__} at position "
                            f"{number}")
    if atol < 0 or rtol < 0:
        raise ValueError(f"atol and rtol must be at least 0, got {atol} and {rtol}")
    for number, x in enumerate(inputs, 1):
        try:
            got = answer(x.clone())
        except NotImplementedError:
            return CheckResult(False, f"Not done yet: {name} still raises NotImplementedError. "
                                      "Fill it in and rerun.")
        except Exception as error:  # the reader's code: report, don't crash the page
            return CheckResult(False, f"{name} raised {type(error).__name__}: {error}")
        want = reference(x.clone())
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            return CheckResult(False, f"{name} should return a tensor of shape "
                                      f"{tuple(want.shape)}, got {shape}")
        if not torch.allclose(got.double(), want.double(), atol=atol, rtol=rtol):
            worst = int((got.double() - want.double()).abs().argmax())
            gave, expected = got.reshape(-1)[worst].item(), want.reshape(-1)[worst].item()
            if x.shape == got.shape:  # elementwise: the input that went wrong is worth naming
                where = f"at input {x.reshape(-1)[worst].item():.4g}"
            else:  # the output's shape is not the input's: name the output element instead
                index = [int(i) for i in torch.unravel_index(torch.tensor(worst), got.shape)]
                where = f"for test input {number} of {len(inputs)}, at output index {index}"
            return CheckResult(False, f"Not yet: {where} {name} gives {gave:.6g}, "
                                      f"expected {expected:.6g}")
    return CheckResult(True, f"Correct: {name} matches the reference on {len(inputs)} test "
                             "inputs.")
