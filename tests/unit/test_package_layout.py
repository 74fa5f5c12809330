"""The package's three folders keep to their concerns (docs/design.md, "One story")."""

import ast
from pathlib import Path

import rnn2transformer

PACKAGE = Path(rnn2transformer.__path__[0])


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved to rnn2transformer.* names."""
    here = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]  # the file's package
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = list(here[: len(here) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


def test_models_know_nothing_about_the_book():
    files = sorted((PACKAGE / "models").glob("*.py"))
    assert len(files) >= 9, "the model families live in rnn2transformer/models"
    for path in files:
        book = {m for m in imported_modules(path) if m.startswith("rnn2transformer.book")}
        assert not book, f"{path.name} imports the book's machinery: {sorted(book)}"


def test_the_top_level_needs_the_book_only_for_its_scale():
    # the training loop and the experiments read RNN2T_SCALE (book.current_scale) and nothing
    # else of the book, so they can be used without it
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "__init__.py":
            continue
        book = {m for m in imported_modules(path) if m.startswith("rnn2transformer.book")}
        assert book <= {"rnn2transformer.book", "rnn2transformer.book.current_scale"}, (
            f"{path.name} imports {sorted(book)}")
