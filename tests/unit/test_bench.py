"""The benchmark runs, writes its files and checks the budgets."""

import json

import pytest

from rnn2transformer.book import bench


def test_quick_benchmark_writes_results_and_checks_budgets(tmp_path):
    build = tmp_path / "_build"
    build.mkdir()
    (build / "execution-times.json").write_text(json.dumps({"chapters/a.md": 12.0}))
    (build / "build-times.json").write_text(json.dumps({"cold": 700.0, "warm": 3.0}))
    report = bench.run(repeats=2, quick=True, out_dir=tmp_path / "results", build_dir=build)
    files = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert files == ["cpu.json", "cpu.md"]
    saved = json.loads((tmp_path / "results" / "cpu.json").read_text())
    assert saved["device"] == "cpu" and saved["throughput"][0]["tokens_per_s"] > 0
    budgets = {b["budget"]: b for b in report["budgets"]}
    assert budgets["cold make book"]["holds"] is False  # 700 s > 600 s
    assert budgets["warm make book"]["holds"] is True
    assert budgets["slowest chapter"]["measured"] == 12.0
    block = budgets["TransformerBlock / nn.TransformerEncoderLayer"]
    assert block["measured"] > 0 and block["holds"] == (block["measured"] <= 1.0)
    speedup = budgets["smallest ensemble speed-up (chapter 4's sweep)"]
    assert speedup["at_least"] and speedup["holds"] == (speedup["measured"] >= 1.5)
    assert speedup["measured"] == min(r["speedup"] for r in report["ensembles"])
    ratios = [r["ratio"] for r in report["comparisons"]]
    assert len(ratios) == 5 and all(r > 0 for r in ratios)
    text = (tmp_path / "results" / "cpu.md").read_text()
    assert "| budget | measured | limit | holds |" in text
    # the parallelism sweep: both families at every (width, length), parameters matched
    sweep = saved["parallelism"]
    assert len(sweep) == 2 * 2 * 2 and all(r["tokens_per_s"] > 0 for r in sweep)
    for width in (32, 64):
        sizes = [r["parameters"] for r in sweep if r["width"] == width]
        assert max(sizes) / min(sizes) < 1.02
    assert "Training throughput at equal parameters" in text
    assert saved["precision"] == []  # CUDA only
    # chapter 4's sweep, one by one and as one ensemble, for both recurrent kinds
    assert [r["kind"] for r in saved["ensembles"]] == ["lstm", "rnn"]
    assert all(r["separate_step_ms"] > 0 and r["ensemble_step_ms"] > 0 and r["speedup"] > 0
               for r in saved["ensembles"])
    assert "six runs one by one or as one" in text


def test_missing_build_information_is_reported_as_not_measured(tmp_path):
    report = {"builds": bench.build_times(tmp_path), "comparisons": []}
    checks = bench.check_budgets(report)
    assert all(c["holds"] is None for c in checks)


def test_chapter_times_execute_each_notebook_at_each_scale(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os\nassert os.environ['RNN2T_SCALE'] in ('smoke', 'default')")])
    nbformat.write(notebook, tmp_path / "ok.ipynb")
    failing = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    nbformat.write(failing, tmp_path / "bad.ipynb")
    times = bench.chapter_times([tmp_path / "ok.ipynb", tmp_path / "bad.ipynb"],
                                ["smoke", "default"], timeout=60)
    assert set(times) == {"smoke", "default"}
    assert all(isinstance(times[s]["ok.ipynb"], float) for s in times)
    assert times["smoke"]["bad.ipynb"] == "failed: ZeroDivisionError: division by zero"
    with pytest.raises(ValueError, match="scales must be among"):
        bench.chapter_times([], ["huge"])
