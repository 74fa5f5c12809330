"""The build's own tools: chapters executed several at a time into the execution cache
(rnn2transformer.book.prefill), and the table of where make test spent its time (buildinfo)."""

import json

import pytest

from rnn2transformer.book import buildinfo, prefill

NOTEBOOK = """---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A page

```{code-cell} ipython3
import os
threads = os.environ.get("RNN2T_THREADS")
print("threads", threads)
%s
```
"""


def test_the_longest_chapters_start_first(tmp_path):
    results = tmp_path / "cpu.json"
    results.write_text(json.dumps({"builds": {"chapters_s": {
        "chapters/a.md": 10.0, "chapters/b.md": 300.0, "chapters/c.md": 50.0}}}))
    paths = [tmp_path / f"{n}.md" for n in "abcd"]
    # d.md has no time yet: it starts first rather than run alone at the end
    assert [p.name for p in prefill.longest_first(paths, results)] == ["d.md", "b.md", "c.md",
                                                                       "a.md"]
    assert prefill.longest_first(paths, tmp_path / "missing.json") == paths


@pytest.mark.slow
def test_chapters_executed_two_at_a_time_land_in_the_cache_as_the_build_reads_them(tmp_path):
    from jupyter_cache import get_cache

    pages = {name: tmp_path / f"{name}.md" for name in ("one", "two", "broken")}
    pages["one"].write_text(NOTEBOOK % "x = 1")
    pages["two"].write_text(NOTEBOOK % "x = 2")
    pages["broken"].write_text(NOTEBOOK % "raise RuntimeError('a chapter that fails')")
    cache = tmp_path / "cache"
    report = prefill.prefill(list(pages.values()), cache, jobs=2, results=tmp_path / "none")
    assert sorted(report["executed"]) == sorted(str(pages[n]) for n in ("one", "two"))
    assert list(report["failed"]) == [str(pages["broken"])]
    assert "RuntimeError" in report["failed"][str(pages["broken"])]
    store = get_cache(str(cache))
    for name in ("one", "two"):  # the key the build computes from the same page finds it
        record = store.match_cache_notebook(prefill.read_chapter(pages[name]))
        outputs = store.get_cache_bundle(record.pk).nb.cells[0].outputs
        # two at a time, each chapter on one thread: its numbers do not depend on its neighbour
        assert "threads 1" in outputs[0]["text"]
    with pytest.raises(KeyError):  # a chapter that failed is left for the build to report
        store.match_cache_notebook(prefill.read_chapter(pages["broken"]))
    again = prefill.prefill(list(pages.values())[:2], cache, jobs=2, results=tmp_path / "none")
    assert again["executed"] == {} and len(again["cached"]) == 2
    with pytest.raises(ValueError, match="jobs must be a whole number >= 1, got 0"):
        prefill.prefill([], cache, jobs=0, results=tmp_path / "none")


def test_make_test_ends_with_where_the_time_went(tmp_path):
    from rnn2transformer.book.bench import REFERENCE_CALIBRATION

    (tmp_path / "phase-times.tsv").write_text("calibration\t3.2\t0\nlint\t1.0\t0\n"
                                              "book\t900.0\t0\nsite-test\t20.5\t2\n")
    (tmp_path / "calibration.json").write_text(json.dumps({
        "tokens_per_s": REFERENCE_CALIBRATION / 2, "device": "cpu", "threads": 2,
        "reference_tokens_per_s": REFERENCE_CALIBRATION}))
    (tmp_path / "build-times.json").write_text(json.dumps({"cold": 1500.0,
                                                           "language_models_s": 151.25}))
    (tmp_path / "execution-times.json").write_text(json.dumps({
        "chapters/07_transformer.md": 170.0, "chapters/01_neural_networks.md": 20.0,
        "book/benchmarks.md": 500.0}))
    text = buildinfo.summary(tmp_path)
    assert "book                900.0  ok" in text and "site-test            20.5  FAILED" in text
    assert "total               924.7" in text
    assert "par here is 2.00 times the reference's time" in text
    # half the reference's speed: the 1390 s budget becomes 2780 s, and 1500 s is within it
    assert "1500.0 s against a budget of 1390 s on the reference machine, 2780 s" in text
    assert "of which the book's language models (trained before the chapters): 151.2 s" in text
    assert "within it" in text
    assert "its slowest chapters: 07_transformer 170.0 s, 01_neural_networks 20.0 s" in text
    assert buildinfo.summary(tmp_path / "nothing").startswith("where make test spent")


def test_the_build_record_command_takes_named_options(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(buildinfo, "chapter_times", lambda build_dir: {"chapters/a.md": 4.0})
    log = tmp_path / "build.log"
    log.write_text("the book's language models: 9 runs, 2 at a time, in 3.5 s\n"
                   "chapters/a.md: Executing notebook (2 at a time, 1 thread each): 4.0 s\n")
    assert buildinfo.main([str(tmp_path), "--record", str(log), "100.0", "112.5"]) == 0
    assert "cold build: 12.5 s" in capsys.readouterr().out
    assert json.loads((tmp_path / "build-times.json").read_text()) == {"cold": 12.5,
                                                                        "cold_jobs": 2,
                                                                        "language_models_s": 3.5}
    assert buildinfo.main([str(tmp_path), "--summary"]) == 0
    assert "the last cold build: 12.5 s" in capsys.readouterr().out


def test_a_builds_own_times_order_the_chapters_too(tmp_path):
    times = tmp_path / "execution-times.json"  # the flat file buildinfo writes after a build
    times.write_text(json.dumps({"chapters/a.md": 5.0, "chapters/b.md": 9.0}))
    paths = [tmp_path / "a.md", tmp_path / "b.md"]
    assert [p.name for p in prefill.longest_first(paths, times)] == ["b.md", "a.md"]


@pytest.mark.slow
def test_a_chapter_that_reads_what_another_writes_starts_after_it(tmp_path):
    """Chapter 9 times the models chapters 4 and 7 export: two at a time, it once started
    first and found none (its front matter now names them, executes_after)."""
    made = tmp_path / "made.txt"
    writer = tmp_path / "writer.md"
    writer.write_text(NOTEBOOK % f"import time; time.sleep(1); open({str(made)!r}, 'w').write('x')")
    reader = tmp_path / "reader.md"
    reader.write_text((NOTEBOOK % f"assert open({str(made)!r}).read() == 'x'").replace(
        "---\n\n# A page", "rnn2transformer:\n  executes_after: [writer]\n---\n\n# A page"))
    results = tmp_path / "times.json"  # the reader is the longer: it would start first
    results.write_text(json.dumps({"chapters/reader.md": 100.0, "chapters/writer.md": 1.0}))
    report = prefill.prefill([reader, writer], tmp_path / "cache", jobs=2, results=results)
    assert report["failed"] == {} and len(report["executed"]) == 2
