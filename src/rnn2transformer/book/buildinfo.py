"""Record how long the book build and each chapter took (run by ``make book``).

``python -m rnn2transformer.book.buildinfo _build`` reads myst-nb's execution cache and prints one
line per chapter; it writes ``_build/execution-times.json``. With ``--record LOG START END`` it
also classifies the build from its log (cold: every chapter executed; warm: none; partial) and
keeps the latest cold and warm wall times in ``_build/build-times.json``, which the benchmark
(``make bench``) checks against the budgets. It needs jupyter-cache, which the book's
environment has (the package itself does not).

``python -m rnn2transformer.book.buildinfo _build --summary`` ends ``make test``: the wall time
of each of its phases (``_build/phase-times.tsv``, written by the Makefile), the machine's
calibration figure (``_build/calibration.json``, ``make test``'s first step), the cold build
against its budget scaled to that figure, and the build's slowest chapters. A CI log then says
how fast the machine was and what took the time.
"""

from __future__ import annotations

import argparse
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
    if kind == "cold":  # chapters executed at a time (prefill's lines say), one thread each
        jobs = re.findall(r"chapters/\S+: Executing notebook \((\d+) at a time", log.read_text(
            errors="replace"))
        recorded["cold_jobs"] = int(jobs[0]) if jobs else 1
        # the book's language models, trained before the chapters (language_models train-all)
        models = re.findall(r"the book's language models: (\d+) runs, (\d+) at a time, in "
                            r"([\d.]+) s", log.read_text(errors="replace"))
        if models:
            recorded["language_models_s"] = float(models[-1][2])
    path.write_text(json.dumps(recorded, indent=2) + "\n")
    return kind


def summary(build_dir: Path, *, slowest: int = 4) -> str:
    """The table ``make test`` ends with (see the module's docstring)."""
    lines = ["where make test spent its time:", f"  {'phase':<16}{'seconds':>9}  result"]
    phases = build_dir / "phase-times.tsv"
    rows = [line.split("\t") for line in phases.read_text().splitlines() if line.strip()] \
        if phases.exists() else []
    for name, seconds, status in rows:
        lines.append(f"  {name:<16}{float(seconds):>9.1f}  {'ok' if status == '0' else 'FAILED'}")
    lines.append(f"  {'total':<16}{sum(float(r[1]) for r in rows):>9.1f}")
    speed = None
    calibration = build_dir / "calibration.json"
    if calibration.exists():
        figure = json.loads(calibration.read_text())
        speed, reference = figure["tokens_per_s"], figure["reference_tokens_per_s"]
        lines.append(f"the machine: {speed:,.0f} tokens/s on {figure['device']} with "
                     f"{figure['threads']} threads (the benchmark's three character-model "
                     f"training steps; the budgets' reference machine: {reference:,.0f}, so "
                     f"par here is {reference / speed:.2f} times the reference's time)")
    builds = build_dir / "build-times.json"
    cold = json.loads(builds.read_text()).get("cold") if builds.exists() else None
    if cold is not None:
        from .bench import BUDGETS, scaled_budget

        limit = scaled_budget(BUDGETS["cold_build_s"], speed)
        lines.append(f"the last cold build: {cold:.1f} s against a budget of "
                     f"{BUDGETS['cold_build_s']:.0f} s on the reference machine, {limit:.0f} s "
                     f"at this machine's speed: "
                     + ("within it" if cold <= limit else "OVER it (the book got slower)"))
        models = json.loads(builds.read_text()).get("language_models_s")
        if models is not None:
            lines.append(f"of which the book's language models (trained before the chapters): "
                         f"{models:.1f} s")
    times = build_dir / "execution-times.json"
    if times.exists():
        chapters = {k: v for k, v in json.loads(times.read_text()).items()
                    if k.startswith("chapters/")}
        top = sorted(chapters.items(), key=lambda kv: -kv[1])[:slowest]
        lines.append("its slowest chapters: " + ", ".join(
            f"{Path(name).stem} {seconds:.1f} s" for name, seconds in top))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir", type=Path, nargs="?", default=Path("_build"))
    parser.add_argument("--record", nargs=3, metavar=("LOG", "START", "END"),
                        help="classify the build whose log is LOG, timed from START to END "
                             "(seconds since the epoch)")
    parser.add_argument("--summary", action="store_true",
                        help="print the table make test ends with, and nothing else")
    args = parser.parse_args(argv)
    build_dir = args.build_dir
    if args.summary:
        print(summary(build_dir))
        return 0
    if args.record:
        log, start, end = args.record
        seconds = float(end) - float(start)
        kind = record_build(build_dir, Path(log), seconds)
        print(f"{kind} build: {seconds:.1f} s (kept in {build_dir / 'build-times.json'})")
    times = chapter_times(build_dir)
    (build_dir / "execution-times.json").write_text(json.dumps(times, indent=2) + "\n")
    print("chapter execution times (s), from the execution cache:")
    for name, seconds in times.items():
        print(f"  {seconds:7.1f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
