"""The harness that launches the notebooks: a kernel that lost its ports to another kernel
starting at the same moment is started again; a notebook that fails for any other reason is
not run twice."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from .conftest import KERNEL_STARTS, NO_KERNEL, PORT_TAKEN, run_notebook


def fake_python(folder: Path, failures: list[str]) -> Path:
    """An executable that stands for the venv's python: its first runs print ``failures``, one
    each, and exit 1; once they are used up it exits 0. It counts its runs in ``runs``."""
    script = folder / "python"
    lines = ["#!/bin/sh", f'echo run >> "{folder}/runs"',
             f'n=$(wc -l < "{folder}/runs")']
    for n, text in enumerate(failures, start=1):
        lines.append(f'if [ "$n" -eq {n} ]; then echo "{text}" >&2; exit 1; fi')
    lines.append("exit 0")
    script.write_text("\n".join(lines) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def runs(folder: Path) -> int:
    return len((folder / "runs").read_text().splitlines())


def test_a_kernel_that_lost_its_port_is_started_again(tmp_path):
    python = fake_python(tmp_path, [f"zmq.error.{PORT_TAKEN} (addr='tcp://127.0.0.1:52301')\n"
                                    f"RuntimeError: {NO_KERNEL}"])
    run_notebook(python, tmp_path / "chapter.ipynb", env={"PATH": os.environ["PATH"]})
    assert runs(tmp_path) == 2


def test_a_notebook_that_fails_otherwise_runs_once_and_fails(tmp_path):
    python = fake_python(tmp_path, ["NameError: name 'model' is not defined"])
    with pytest.raises(AssertionError, match="chapter.ipynb failed"):
        run_notebook(python, tmp_path / "chapter.ipynb", env={"PATH": os.environ["PATH"]})
    assert runs(tmp_path) == 1


def test_the_port_race_is_tried_a_bounded_number_of_times(tmp_path):
    race = f"{PORT_TAKEN}\n{NO_KERNEL}"
    python = fake_python(tmp_path, [race] * (KERNEL_STARTS + 1))
    with pytest.raises(AssertionError, match="Address already in use"):
        run_notebook(python, tmp_path / "chapter.ipynb", env={"PATH": os.environ["PATH"]})
    assert runs(tmp_path) == KERNEL_STARTS
