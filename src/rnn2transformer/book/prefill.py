"""Execute the chapters several at a time into the book's execution cache (run by ``make book``).

``python -m rnn2transformer.book.prefill --jobs 2`` reads each chapter as myst-nb reads it,
executes the ones the cache (``_build/.jupyter_cache``, ``execute.cache`` in ``_config.yml``)
does not hold, ``--jobs`` at a time, and stores each executed notebook there as myst-nb would.
The strict build that follows then finds every chapter in the cache and executes none: it stays
the judge (a chapter that fails here is not stored, so the build executes it again and reports
its error with the chapter's path and cell).

Why (``docs/design.md``, "Two chapters at a time"): on a machine with two cores, two threads
buy a chapter's training step 1.3-1.55x, two processes up to 2x. With more than one job each
chapter runs with ``RNN2T_THREADS=1``, so its numbers do not depend on which chapter it happened
to share the machine with: the same setting gives the same results, build after build.

The longest chapters start first (their times from the last build here, ``_build/
execution-times.json``, or else the committed ``benchmarks/results/cpu.json``), so the two
queues end close together. Each finished chapter
prints one line in the form the build log uses (``chapters/NN.md: Executing notebook ...``),
which :mod:`rnn2transformer.book.buildinfo` counts to tell a cold build from a warm one.
It needs myst-nb and jupyter-cache, which the book's environment has (the package does not).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from ..settings import ENV_THREADS

ROOT = Path.cwd()  # make book runs from the repository root
# the timeout myst-nb uses when a chapter's front matter sets none (_config.yml: execute.timeout)
DEFAULT_TIMEOUT = 1800


def read_chapter(path: Path):
    """The chapter as myst-nb reads it for the build, so that its cache key is the build's."""
    from myst_nb.core.read import read_myst_markdown_notebook

    return read_myst_markdown_notebook(path.read_text(), add_source_map=True, path=str(path))


def longest_first(paths: list[Path], results: Path) -> list[Path]:
    """``paths`` ordered by their last measured execution time, longest first. A chapter
    with no time yet goes first: a new chapter started last once ran alone at the end of a
    build, on its one thread, for a fifth of the build's time."""
    known: dict[str, float] = {}
    if results.exists():  # a benchmark's results file, or a build's execution-times.json
        saved = json.loads(results.read_text())
        chapters = saved["builds"].get("chapters_s", {}) if "builds" in saved else saved
        known = {Path(name).name: float(seconds) for name, seconds in chapters.items()}
    return sorted(paths, key=lambda p: -known.get(p.name, float("inf")))


def _execute(path: str, threads: int | None) -> tuple[str, object, float, str | None]:
    """Execute one chapter in a fresh kernel (in a worker process); return its notebook."""
    from jupyter_cache.executors.utils import single_nb_execution

    if threads is not None:  # the kernel inherits it
        os.environ[ENV_THREADS] = str(threads)
    chapter = Path(path)
    nb = read_chapter(chapter)
    timeout = nb.metadata.get("mystnb", {}).get("execution_timeout", DEFAULT_TIMEOUT)
    result = single_nb_execution(nb, cwd=str(chapter.parent), timeout=timeout,
                                 allow_errors=False, meta_override=True)
    error = None if result.err is None else f"{type(result.err).__name__}: {result.err}"
    return path, nb, result.time, error


def prefill(chapters: list[Path], cache_dir: Path, *, jobs: int, results: Path) -> dict:
    """Execute the ``chapters`` the cache misses, ``jobs`` at a time; store the successes.
    Returns ``{"executed": {name: seconds}, "failed": {name: error}, "cached": [names],
    "seconds": wall time}``."""
    from jupyter_cache import get_cache

    if not (isinstance(jobs, int) and jobs >= 1):
        raise ValueError(f"jobs must be a whole number >= 1, got {jobs!r}")
    cache = get_cache(str(cache_dir))
    missing, cached = [], []
    for path in chapters:
        try:
            cache.match_cache_notebook(read_chapter(path))
            cached.append(path.name)
        except KeyError:
            missing.append(path)
    report: dict = {"executed": {}, "failed": {}, "cached": cached, "jobs": jobs}
    started = time.perf_counter()
    threads = 1 if jobs > 1 else None  # alone, a chapter fits its threads to the machine
    context = multiprocessing.get_context("spawn")  # a kernel client per fresh process
    queue = longest_first(missing, results)
    # A chapter that reads what others write (chapter 9 times the live models chapters 4 and 7
    # export) names them in its front matter (rnn2transformer: executes_after: [...]) and
    # starts only once they have finished here; in the build's own order it came after them.
    waits = {p: set(read_chapter(p).metadata.get("rnn2transformer", {}).get(
        "executes_after", [])) & {q.stem for q in queue} for p in queue}
    finished: set[str] = set()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        running: dict = {}
        while queue or running:
            ready = [p for p in queue if waits[p] <= finished]
            for p in ready[:jobs - len(running)]:
                queue.remove(p)
                running[pool.submit(_execute, str(p), threads)] = p
            if not running:  # what it waits for is not here to run: start it anyway
                p = queue.pop(0)
                running[pool.submit(_execute, str(p), threads)] = p
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                finished.add(running.pop(future).stem)
                _store(future.result(), cache, report, jobs if threads else None)
    report["seconds"] = time.perf_counter() - started
    return report


def _store(result: tuple, cache, report: dict, jobs: int | None) -> None:
    """Cache one executed chapter as myst-nb would, or record why it failed."""
    from jupyter_cache.base import CacheBundleIn

    path, nb, seconds, error = result
    name = str(Path(path).relative_to(ROOT)) if Path(path).is_relative_to(ROOT) else path
    if error is None:
        cache.cache_notebook_bundle(CacheBundleIn(nb, path, data={
            "execution_seconds": seconds}), check_validity=False, overwrite=True)
        report["executed"][name] = seconds
        how = f"{jobs} at a time, 1 thread each" if jobs else "alone"
        print(f"{name}: Executing notebook ({how}): {seconds:.1f} s", flush=True)
    else:  # the strict build executes it again and reports the error in full
        report["failed"][name] = error[:300]
        print(f"{name}: failed here ({error[:200]}); the build will execute it again",
              flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="chapters executed at a time")
    parser.add_argument("--cache", type=Path, default=ROOT / "_build" / ".jupyter_cache")
    parser.add_argument("--results", type=Path, default=None,
                        help="chapter times to order by (default: the last build's, else the "
                             "committed benchmarks/results/cpu.json)")
    parser.add_argument("chapters", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.results is None:
        last = ROOT / "_build" / "execution-times.json"
        args.results = last if last.exists() else ROOT / "benchmarks" / "results" / "cpu.json"
    chapters = [p.resolve() for p in args.chapters] or sorted((ROOT / "chapters").glob("*.md"))
    report = prefill(chapters, args.cache, jobs=args.jobs, results=args.results)
    if report["executed"] or report["failed"]:
        print(f"executed {len(report['executed'])} chapters {args.jobs} at a time in "
              f"{report['seconds']:.1f} s ({len(report['cached'])} already cached, "
              f"{len(report['failed'])} failed)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
