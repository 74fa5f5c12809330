"""Fresh virtual environments for the launched-notebook tests (slow: they install torch)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def make_venv(path: Path, requirements: list[str]) -> Path:
    """Create a virtual environment at ``path`` with ``requirements``; return its python."""
    python = path / "bin" / "python"
    stamp = path / "requirements.json"
    if python.exists() and stamp.exists() and json.loads(stamp.read_text()) == requirements:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements], check=True)
    stamp.write_text(json.dumps(requirements))
    return python


def run_notebook(python: Path, notebook: Path, env: dict[str, str]) -> float:
    """Execute ``notebook`` top to bottom with the venv's kernel; return the seconds it took."""
    script = (
        "import sys, nbformat, nbclient\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=900, kernel_name='python3',\n"
        "    resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
    )
    start = time.perf_counter()
    result = subprocess.run([str(python), "-c", script, str(notebook), str(notebook.parent)],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"{notebook.name} failed:\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-4000:]}")
    return time.perf_counter() - start


@pytest.fixture(scope="session")
def colab_python() -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    return make_venv(WORK / "colab-venv", colab_requirements())


@pytest.fixture(scope="session")
def launch_env(tmp_path_factory) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RNN2T_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env["RNN2T_PACKAGE_SOURCE"] = str(ROOT)  # the first cell installs from this checkout
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
