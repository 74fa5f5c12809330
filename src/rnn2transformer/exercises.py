"""Self-check cells: a reader writes a function, the package checks it against a reference.

References are computed (by autograd or by the package's own implementation), never typed-in
numbers, so a check cannot pass by copying an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


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
    for x in inputs:
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
            worst = (got.double() - want.double()).abs().argmax()
            at, gave = x.reshape(-1)[worst].item(), got.reshape(-1)[worst].item()
            return CheckResult(False, f"Not yet: at input {at:.4g} {name} gives {gave:.6g}, "
                                      f"expected {want.reshape(-1)[worst].item():.6g}")
    return CheckResult(True, f"Correct: {name} matches the reference on {len(inputs)} test "
                             "inputs.")
