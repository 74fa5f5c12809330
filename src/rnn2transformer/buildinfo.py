"""Report how long each chapter took to execute in the last book build.

``python -m rnn2transformer.buildinfo _build`` reads myst-nb's execution cache and prints one
line per chapter; it also writes ``_build/execution-times.json`` for the benchmark page.
It needs jupyter-cache, which the book's environment has (the package itself does not).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def chapter_times(build_dir: str | Path = "_build") -> dict[str, float]:
    """Seconds each cached notebook took to execute, keyed by its path relative to the repo."""
    from jupyter_cache import get_cache

    cache_dir = Path(build_dir) / ".jupyter_cache"
    if not cache_dir.is_dir():
        raise FileNotFoundError(f"no execution cache in {cache_dir}: build the book first")
    root = Path(build_dir).resolve().parent
    times = {}
    for record in get_cache(str(cache_dir)).list_cache_records():
        name = Path(record.uri)
        name = name.relative_to(root) if name.is_relative_to(root) else name
        times[str(name)] = float(record.data.get("execution_seconds", float("nan")))
    return dict(sorted(times.items()))


def main(argv: list[str]) -> int:
    build_dir = Path(argv[0] if argv else "_build")
    times = chapter_times(build_dir)
    (build_dir / "execution-times.json").write_text(json.dumps(times, indent=2) + "\n")
    print("chapter execution times (s), from the execution cache:")
    for name, seconds in times.items():
        print(f"  {seconds:7.1f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
