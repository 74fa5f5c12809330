"""Self-check cells: a reader writes a function, the package checks it against a reference.

References are computed (by autograd or by the package's own implementation), never typed-in
numbers, so a check cannot pass by copying an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


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
) -> bool:
    """Compare ``answer(x)`` with ``reference(x)`` for every ``x`` in ``inputs``.

    Prints what it found (not done yet, an error, the first mismatch, or a pass) and returns
    whether every input matched.
    """
    if not callable(answer) or not callable(reference):
        raise TypeError("answer and reference must both be functions")
    if len(inputs) == 0:
        raise ValueError("inputs must hold at least one tensor, got none")
    for x in inputs:
        try:
            got = answer(x.clone())
        except NotImplementedError:
            print(f"Not done yet: {name} still raises NotImplementedError. Fill it in and rerun.")
            return False
        except Exception as error:  # the reader's code: report, don't crash the page
            print(f"{name} raised {type(error).__name__}: {error}")
            return False
        want = reference(x.clone())
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            print(f"{name} should return a tensor of shape {tuple(want.shape)}, got {shape}")
            return False
        if not torch.allclose(got.double(), want.double(), atol=atol, rtol=rtol):
            worst = (got.double() - want.double()).abs().argmax()
            at, gave = x.reshape(-1)[worst].item(), got.reshape(-1)[worst].item()
            print(
                f"Not yet: at input {at:.4g} {name} gives {gave:.6g}, "
                f"expected {want.reshape(-1)[worst].item():.6g}"
            )
            return False
    print(f"Correct: {name} matches the reference on {len(inputs)} test inputs.")
    return True
