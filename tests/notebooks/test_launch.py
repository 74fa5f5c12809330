"""Readers' paths: launched notebooks in Colab's environment, Binder, and the live explorers.

Each chapter's paired .ipynb runs top to bottom, at the smoke scale, in a virtual environment
holding Colab's packages at Colab's versions (colab-packages.txt). A notebook's first cell
installs this package (from the local checkout, through RNN2T_PACKAGE_SOURCE, instead of the
repository URL): one first cell runs alone in a runtime without the package, and the chapters
then run with it installed once beforehand. The same run does the chapter's implement
exercises (solution_steps.py; test_solutions.py reports them). Run times go to
_build/launch/notebook-times.json.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from .conftest import ROOT, colab_requirements, run_notebook

NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def freeze(python: Path) -> dict[str, str]:
    """name -> version of every package in the environment, except this book's."""
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], check=True,
                         capture_output=True, text=True).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(out)
            if p["name"].lower() != "rnn2transformer"}


def test_installing_the_package_changes_no_colab_package(colab_python, launch_env):
    """Colab restarts the runtime when an imported package is upgraded, and its widgets stop
    rendering under ipywidgets 8: the package must install beside what Colab has."""
    before = freeze(colab_python)
    for requirement in colab_requirements():  # the environment really is Colab's
        name, _, version = requirement.partition("==")
        if version:
            installed = before.get(name.lower(), "").split("+")[0]  # 2.13.0+cpu is 2.13.0
            assert installed == version, (requirement, before.get(name.lower()))
    subprocess.run([str(colab_python), "-m", "pip", "install", "--quiet",
                    launch_env["RNN2T_PACKAGE_SOURCE"]], check=True, env=launch_env)
    after = freeze(colab_python)
    changed = {name: (before.get(name), after.get(name)) for name in before.keys() | after.keys()
               if before.get(name) != after.get(name)}
    assert not changed, f"installing rnn2transformer changed Colab's packages: {changed}"
    print(f"\ninstalling rnn2transformer changed none of the {len(before)} packages in the "
          f"Colab environment (ipywidgets {after['ipywidgets']}, torch {after['torch']})")


def test_a_notebooks_first_cell_installs_the_package(colab_python, launch_env, tmp_path):
    """The launched notebooks find the package installed already (the fixture installs it
    once, so that two first cells do not write the same files at once). So here one first cell
    runs alone, in a runtime without the package, as Colab starts: it must install it."""
    def installed() -> bool:
        return subprocess.run([str(colab_python), "-m", "pip", "show", "--quiet",
                               "rnn2transformer"], capture_output=True,
                              env=launch_env).returncode == 0

    subprocess.run([str(colab_python), "-m", "pip", "uninstall", "--quiet", "--yes",
                    "rnn2transformer"], check=True, capture_output=True, env=launch_env)
    assert not installed()
    chapter = nbformat.read(NOTEBOOKS[0], as_version=4)
    first = next(cell for cell in chapter.cells if cell.cell_type == "code")
    path = tmp_path / "first-cell.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[first], metadata=chapter.metadata), path)
    run_notebook(colab_python, path, launch_env, cwd=ROOT / "chapters")  # raises if it fails
    assert installed(), "the first cell ran without installing rnn2transformer"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_launched_notebook_runs_in_colabs_environment(notebook, launched, timings):
    result = launched[notebook.name]
    if isinstance(result, AssertionError):
        raise result
    timings[notebook.name] = result


# Moves every control of every explorer through the widget API (ipywidgets 7 in Colab's
# environment) and checks that each move recomputes the explorer's result.
DRIVE_EXPLORERS = """
from rnn2transformer.book.explorers import EXPLORERS
for chapter, make in EXPLORERS.items():
    explorer = make()
    summaries = {explorer.summary}
    for name, control in explorer.controls.items():
        before = explorer.result
        if hasattr(control, "options"):
            options = [o[1] if isinstance(o, tuple) else o for o in control.options]
            control.value = next(o for o in reversed(options) if o != control.value)
        elif isinstance(control.value, bool):
            control.value = not control.value
        elif isinstance(control.value, str):
            control.value = control.value[::-1] + " and more"
        else:
            control.value = control.max if control.value != control.max else control.min
        assert explorer.result is not before, (chapter, name, "did not recompute")
        summaries.add(explorer.summary)
    assert len(summaries) > 1, (chapter, "no move changed the summary", summaries)
    print("explorer ok:", chapter, "|", explorer.summary)
"""


def test_every_live_explorer_recomputes_in_colabs_environment(colab_python, launch_env):
    subprocess.run([str(colab_python), "-m", "pip", "install", "--quiet",
                    launch_env["RNN2T_PACKAGE_SOURCE"]], check=True, env=launch_env)
    result = subprocess.run([str(colab_python), "-c", DRIVE_EXPLORERS], env=launch_env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    print(result.stdout)
    from rnn2transformer.book.explorers import EXPLORERS

    assert result.stdout.count("explorer ok") == len(EXPLORERS)


def test_binder_environment_builds_and_runs_a_chapter(launch_env, environments, tmp_path):
    python = environments["binder"].result()
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
