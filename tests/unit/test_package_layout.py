"""The package's floors point one way (docs/design.md, "The map"): the models import nothing
from above them, the top level never imports the book, one module reads the environment, and
no function is too long to read."""

import ast
import subprocess
import sys
from pathlib import Path

import rnn2transformer

PACKAGE = Path(rnn2transformer.__path__[0])
MAX_FUNCTION_LINES = 80


def loaded_after(statement: str) -> set[str]:
    """The package's modules a fresh interpreter has loaded after ``statement``."""
    code = (f"{statement}\nimport sys\n"
            "print('\\n'.join(m for m in sys.modules if m.startswith('rnn2transformer')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return set(done.stdout.split())


def test_importing_the_models_loads_nothing_of_the_book():
    modules = " ".join(f"rnn2transformer.models.{p.stem}" for p in
                       sorted((PACKAGE / "models").glob("*.py")) if p.stem != "__init__")
    loaded = loaded_after(f"import {modules.replace(' ', ', ')}")
    assert "rnn2transformer.models.transformer" in loaded  # the check itself works
    assert not {m for m in loaded if m.startswith("rnn2transformer.book")}, sorted(loaded)


def test_the_models_import_only_their_own_floor_and_the_ground_floor():
    allowed = {"rnn2transformer._checks", "rnn2transformer.tokenizers"}
    for path in sorted((PACKAGE / "models").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2:  # from ..x import y
                imported = [f"rnn2transformer.{node.module}"]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:  # from rnn2transformer.x
                imported = [node.module]
            elif isinstance(node, ast.Import):  # import rnn2transformer.x
                imported = [alias.name for alias in node.names]
            else:
                continue
            for module in imported:
                assert (module in allowed or not module.startswith("rnn2transformer")
                        or module.startswith("rnn2transformer.models")), (
                    f"{path.name} imports {module} from above the models")


def test_the_top_level_package_does_not_load_the_book():
    loaded = loaded_after("import rnn2transformer, rnn2transformer.training, "
                          "rnn2transformer.profiling, rnn2transformer.sampling, "
                          "rnn2transformer.context, rnn2transformer.transfer")
    assert "rnn2transformer.training" in loaded
    assert not {m for m in loaded if m.startswith("rnn2transformer.book")}, sorted(loaded)


def test_only_settings_names_the_packages_environment_variables():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not node.value.startswith("RNN2T_"), (
                    f"{path.relative_to(PACKAGE)} names {node.value!r}: read it through "
                    "rnn2transformer.settings")


def test_no_function_is_longer_than_a_reader_can_follow():
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                assert lines <= MAX_FUNCTION_LINES, (
                    f"{path.relative_to(PACKAGE)}: {node.name} has {lines} lines")
