"""Record how long the book build and each chapter took (run by ``make book``).

``python -m rnn2transformer.book.buildinfo _build`` reads myst-nb's execution cache and prints one
line per chapter; it writes ``_build/execution-times.json``. With ``--record LOG START END`` it
also classifies the build from its log (cold: every chapter executed; warm: none; partial) and
keeps the latest cold and warm wall times in ``_build/build-times.json``, which the benchmark
(``make bench``) checks against the budgets. It needs jupyter-cache, which the book's
environment has (the package itself does not).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def _cache_records(build_dir: str | Path):
    """myst-nb's execution cache, and each record's notebook path relative to the repo."""
    from jupyter_cache import get_cache

    cache_dir = Path(build_dir) / ".jupyter_cache"
    if not cache_dir.is_dir():
        raise FileNotFoundError(f"no execution cache in {cache_dir}: build the book first")
    root = Path(build_dir).resolve().parent
    cache = get_cache(str(cache_dir))
    for record in cache.list_cache_records():
        name = Path(record.uri)
        yield cache, record, name.relative_to(root) if name.is_relative_to(root) else name


def chapter_times(build_dir: str | Path = "_build") -> dict[str, float]:
    """Seconds each cached notebook took to execute, keyed by its path relative to the repo."""
    times = {str(name): float(record.data.get("execution_seconds", float("nan")))
             for _, record, name in _cache_records(build_dir)}
    return dict(sorted(times.items()))


def executed_notebooks(build_dir: str | Path = "_build") -> dict[str, object]:
    """Each cached notebook with its outputs, keyed by its path relative to the repo."""
    return {str(name): cache.get_cache_bundle(record.pk).nb
            for cache, record, name in _cache_records(build_dir)}


def record_build(build_dir: Path, log: Path, seconds: float) -> str:
    """Classify the build whose log is ``log`` and remember its wall time; return the kind."""
    # Only chapters count: the benchmarks appendix re-executes by design (it reads files).
    executed = len(re.findall(r"chapters/\S+: Executing notebook", log.read_text(errors="replace")))
    # The cache also holds the executed appendices (book/...): count only the chapters.
    n_chapters = sum(name.startswith("chapters/") for name in chapter_times(build_dir))
    kind = "warm" if executed == 0 else "cold" if executed >= n_chapters else "partial"
    path = build_dir / "build-times.json"
    recorded = json.loads(path.read_text()) if path.exists() else {}
    recorded[kind] = round(seconds, 1)
    path.write_text(json.dumps(recorded, indent=2) + "\n")
    return kind


def main(argv: list[str]) -> int:
    build_dir = Path(argv[0] if argv else "_build")
    if len(argv) == 5 and argv[1] == "--record":
        seconds = float(argv[4]) - float(argv[3])
        kind = record_build(build_dir, Path(argv[2]), seconds)
        print(f"{kind} build: {seconds:.1f} s (kept in {build_dir / 'build-times.json'})")
    times = chapter_times(build_dir)
    (build_dir / "execution-times.json").write_text(json.dumps(times, indent=2) + "\n")
    print("chapter execution times (s), from the execution cache:")
    for name, seconds in times.items():
        print(f"  {seconds:7.1f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
