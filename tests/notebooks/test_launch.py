"""Readers' paths: launched notebooks (Colab-like), Binder, and the live explorers.

Each chapter's paired .ipynb runs top to bottom in a fresh virtual environment holding only what
Colab already has; its own first cell installs this package (from the local checkout, through
RNN2T_PACKAGE_SOURCE, instead of the repository URL). Run times go to
_build/launch/notebook-times.json.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT, WORK, make_venv, pinned, run_notebook

NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_launched_notebook_runs_in_a_colab_like_environment(notebook, colab_python, launch_env,
                                                            timings):
    timings[notebook.name] = run_notebook(colab_python, notebook, launch_env)


def test_live_explorer_recomputes_in_the_launched_environment(colab_python, launch_env):
    subprocess.run([str(colab_python), "-m", "pip", "install", "--quiet", str(ROOT)],
                   check=True, env=launch_env)
    script = (
        "from rnn2transformer.explorers import gradient_explorer\n"
        "e = gradient_explorer(n_examples=64)\n"
        "before = e.summary\n"
        "e.controls['depth'].value = 4\n"
        "e.controls['activation'].value = 'relu'\n"
        "assert e.summary != before and len(e.result) == 4, (before, e.summary)\n"
        "print('explorer ok:', e.summary)\n"
    )
    result = subprocess.run([str(colab_python), "-c", script], env=launch_env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "explorer ok" in result.stdout


def binder_requirements() -> list[str]:
    """binder/requirements.txt as pip arguments. The CPU index line is dropped here (this
    machine reaches only PyPI, where the pinned torch resolves to the same CPU wheel); the
    '+cpu' local version is kept as written, so a typo in the pin still fails."""
    lines = []
    for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("--extra-index-url"):
            lines.append(line)
    return lines


def test_binder_environment_builds_and_runs_a_chapter(launch_env, tmp_path):
    python = make_venv(WORK / "binder-venv",
                       binder_requirements() + pinned(["ipykernel", "nbclient", "nbformat"]))
    postbuild = ROOT / "binder" / "postBuild"
    assert postbuild.stat().st_mode & 0o111, "binder/postBuild must be executable"
    env = dict(launch_env, PATH=f"{python.parent}:{launch_env.get('PATH', '')}")
    subprocess.run(["bash", str(postbuild)], cwd=ROOT, env=env, check=True)
    env.pop("RNN2T_PACKAGE_SOURCE")  # on Binder the package is installed already
    seconds = run_notebook(python, ROOT / "chapters" / "01_neural_networks.ipynb", env)
    print(f"binder: chapter 1 ran in {seconds:.1f} s")


def test_binder_pins_the_same_torch_as_the_book():
    book = re.search(r"^torch==([\d.]+)", (ROOT / "requirements.txt").read_text(), re.M)
    binder = re.search(r"^torch==([\d.]+)\+cpu", (ROOT / "binder" / "requirements.txt")
                       .read_text(), re.M)
    assert book and binder and book.group(1) == binder.group(1)
    assert Path(ROOT / "binder" / "postBuild").exists()
