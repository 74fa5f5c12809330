"""Fresh virtual environments for the launched-notebook tests (slow: they install torch)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from .solution_steps import with_solution_steps

ROOT = Path(__file__).parents[2]
WORK = ROOT / "_build" / "launch"
# What a Colab runtime already has, at Colab's versions (the file says where they come from),
# plus the harness that executes a notebook. Not this package: each notebook's first cell
# installs it.
COLAB_PACKAGES = Path(__file__).with_name("colab-packages.txt")


def colab_requirements() -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in COLAB_PACKAGES.read_text().splitlines())
    return [line for line in lines if line]


def pinned(names: list[str]) -> list[str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(0)
    return [pins.get(name.lower(), name) for name in names]


def wheel_folders() -> list[str]:
    """The folders of wheels pip is pointed at here (``PIP_FIND_LINKS`` or pip's own
    configuration), so that uv installs the same wheels pip would: the book's build machines
    keep the CPU torch in such a folder, and without it uv takes the CUDA build from PyPI."""
    folders = os.environ.get("PIP_FIND_LINKS", "").split()
    config = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                            capture_output=True, text=True).stdout
    for line in config.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".find-links"):
            folders += value.strip("'\"").split()
    return list(dict.fromkeys(folders))


def make_venv(path: Path, requirements: list[str]) -> Path:
    """Create a virtual environment at ``path`` with ``requirements`` (and pip, which the
    notebooks' install cell uses); return its python. uv builds it when the book's environment
    has uv (five times faster than pip here), pip otherwise."""
    python = path / "bin" / "python"
    stamp = path / "requirements.json"
    if python.exists() and stamp.exists() and json.loads(stamp.read_text()) == requirements:
        return python
    uv = Path(sys.executable).parent / "uv"
    if uv.exists():
        subprocess.run([str(uv), "venv", "--quiet", "--seed", "--python", sys.executable,
                        str(path)], check=True)
        links = [arg for folder in wheel_folders() for arg in ("--find-links", folder)]
        # not compiled to bytecode here (pip compiles every module it installs, most of the
        # time it took): the kernels compile what they import, once (see launch_env)
        subprocess.run([str(uv), "pip", "install", "--quiet", "--python", str(python), *links,
                        *requirements], check=True)
    else:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements],
                       check=True)
    stamp.write_text(json.dumps(requirements))
    return python


# Notebooks executed at a time: each is its own kernel process, so on two cores two of them
# take about the time of one (the smoke scale's cells are short and mostly single-threaded)
JOBS = 2


def run_notebooks(python: Path, notebooks: list[Path], env: dict[str, str],
                  cwd: Path | None = None) -> dict:
    """Execute ``notebooks`` :data:`JOBS` at a time; return name -> seconds, or the
    AssertionError that :func:`run_notebook` raised for it."""
    def one(notebook: Path):
        try:
            return notebook.name, run_notebook(python, notebook, env, cwd)
        except AssertionError as error:
            return notebook.name, error

    with ThreadPoolExecutor(max_workers=JOBS) as pool:  # threads that wait on subprocesses
        return dict(pool.map(one, notebooks))


def selected(request, argname: str) -> list:
    """The values of the parameter ``argname`` in the tests this session will run, in order
    (so a fixture that runs them all at once runs only those selected)."""
    values = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and argname in callspec.params:
            if callspec.params[argname] not in values:
                values.append(callspec.params[argname])
    return values


# In the Jupyter protocol the client picks the kernel's ports and the kernel binds them a moment
# later; a kernel starting at the same time can take one in between, and the new kernel dies
# before it runs a cell (jupyter/jupyter_client's known race, nteract/papermill#511). CI lost a
# run to it on 2026-12-06, two notebooks starting at once. A start that failed so is tried again,
# up to KERNEL_STARTS times; any other failure is the notebook's own.
PORT_TAKEN = "ZMQError: Address already in use"
NO_KERNEL = "Kernel died before replying to kernel_info"
KERNEL_STARTS = 3


def run_notebook(python: Path, notebook: Path, env: dict[str, str],
                 cwd: Path | None = None) -> float:
    """Execute ``notebook`` top to bottom with the venv's kernel, its working folder ``cwd``
    (the notebook's own by default); return the seconds it took."""
    script = (
        "import sys, nbformat, nbclient\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=900, kernel_name='python3',\n"
        "    resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
    )
    start = time.perf_counter()
    folder = cwd or notebook.parent
    for _ in range(KERNEL_STARTS):
        result = subprocess.run([str(python), "-c", script, str(notebook), str(folder)],
                                env=env, capture_output=True, text=True)
        output = result.stdout + result.stderr
        if result.returncode == 0 or not (PORT_TAKEN in output and NO_KERNEL in output):
            break
    if result.returncode != 0:
        raise AssertionError(f"{notebook.name} failed:\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-4000:]}")
    return time.perf_counter() - start


def binder_requirements() -> list[str]:
    """binder/requirements.txt as pip arguments. The CPU index line is dropped here (this
    machine reaches only PyPI, where the pinned torch resolves to the same CPU wheel); the
    '+cpu' local version is kept as written, so a typo in the pin still fails."""
    lines = []
    for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("--extra-index-url"):
            lines.append(line)
    return lines + pinned(["ipykernel", "nbclient", "nbformat"])


@pytest.fixture(scope="session")
def environments(request):
    """The Colab-like and the Binder environments, built at the same time (each pip install
    is mostly one core's work, and together they were half of this suite's time); only those
    the selected tests use. name -> a future of the environment's python."""
    WORK.mkdir(parents=True, exist_ok=True)
    wanted = {"colab": (WORK / "colab-venv", colab_requirements())}
    if any("binder" in item.name for item in request.session.items):
        wanted["binder"] = (WORK / "binder-venv", binder_requirements())
    pool = ThreadPoolExecutor(max_workers=len(wanted))  # threads that wait on pip
    futures = {name: pool.submit(make_venv, *args) for name, args in wanted.items()}
    pool.shutdown(wait=False)
    yield futures
    for future in futures.values():
        future.exception()  # wait for both before the session ends


@pytest.fixture(scope="session")
def colab_python(environments) -> Path:
    python = environments["colab"].result()
    # a runtime without the book's package, as Colab starts (an earlier run installed it here)
    subprocess.run([str(python), "-m", "pip", "uninstall", "--quiet", "--yes", "rnn2transformer"],
                   check=True, capture_output=True)
    return python


@pytest.fixture(scope="session")
def package_wheel(tmp_path_factory) -> Path:
    """This checkout built once into a wheel: what each launched notebook's first cell
    installs (building from the source folder again in every notebook took seconds each)."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(folder), str(ROOT)], check=True)
    (wheel,) = folder.glob("rnn2transformer-*.whl")
    return wheel


@pytest.fixture(scope="session")
def launch_env(tmp_path_factory, package_wheel) -> dict[str, str]:
    # Without PYTHONDONTWRITEBYTECODE (set on the book's build machines): the first kernel to
    # import torch or pandas writes their bytecode, as a Colab runtime has it, and every later
    # kernel reads it instead of compiling those modules again.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RNN2T_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"))}
    env["RNN2T_PACKAGE_SOURCE"] = str(package_wheel)  # the first cell installs this checkout
    env["RNN2T_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    env["RNN2T_DEVICE"] = "cpu"
    # Every training and timing loop a handful of iterations: these tests check the reader's
    # path (install, imports, every cell, the explorers); the strict build already executes the
    # chapters at their real scale.
    env["RNN2T_SCALE"] = "smoke"
    return env


@pytest.fixture(scope="session")
def timings():
    report: dict[str, float] = {}
    yield report
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "notebook-times.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\nlaunched notebook run times (s):")
    for name, seconds in report.items():
        print(f"  {seconds:7.1f}  {name}")


@pytest.fixture(scope="session")
def launched(request, colab_python, launch_env, tmp_path_factory) -> dict:
    """Every selected chapter notebook, executed two at a time (:data:`JOBS`) when the first of
    their tests asks, with its implement exercises done as solution_steps says (one run checks
    both the reader's path and the exercises: each chapter once, not twice); each test then
    reports its own chapter's result, name -> seconds or the AssertionError. The package is
    installed first, so the two first cells that install it at once find it there (pip leaves
    an installed wheel of the same version as it is) instead of writing the same files."""
    subprocess.run([str(colab_python), "-m", "pip", "install", "--quiet",
                    launch_env["RNN2T_PACKAGE_SOURCE"]], check=True, env=launch_env)
    folder = tmp_path_factory.mktemp("launched")
    notebooks = []
    for notebook in selected(request, "notebook"):
        steps = with_solution_steps(nbformat.read(notebook, as_version=4),
                                    notebook.with_suffix(".md"))
        nbformat.write(steps, folder / notebook.name)
        notebooks.append(folder / notebook.name)
    return run_notebooks(colab_python, notebooks, launch_env, cwd=ROOT / "chapters")
