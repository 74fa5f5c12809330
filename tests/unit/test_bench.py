"""The benchmark runs, writes its files and checks the budgets."""

import json
import time

import pytest
import torch

from rnn2transformer.book import bench


@pytest.mark.slow
def test_quick_benchmark_writes_results_and_checks_budgets(tmp_path):
    build = tmp_path / "_build"
    build.mkdir()
    (build / "execution-times.json").write_text(json.dumps({"chapters/a.md": 12.0}))
    (build / "build-times.json").write_text(json.dumps({"cold": 1000.0, "warm": 3.0}))
    report = bench.run(repeats=2, quick=True, out_dir=tmp_path / "results", build_dir=build)
    files = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert files == ["cpu.json", "cpu.md"]
    saved = json.loads((tmp_path / "results" / "cpu.json").read_text())
    assert saved["device"] == "cpu" and saved["throughput"][0]["tokens_per_s"] > 0
    budgets = {b["budget"]: b for b in report["budgets"]}
    # the cold build's 1390 s, scaled to this machine's speed measured in the same run
    speed = report["calibration"]["tokens_per_s"]
    assert speed == pytest.approx(bench.combined_tokens_per_s(report["throughput"]))
    limit = budgets["cold make book"]["limit"]
    assert limit == pytest.approx(1390 * bench.REFERENCE_CALIBRATION / speed, abs=0.1)
    assert budgets["cold make book"]["holds"] is (1000 <= limit)
    assert budgets["warm make book"]["holds"] is True
    assert budgets["slowest chapter"]["measured"] == 12.0
    block = budgets["TransformerBlock / nn.TransformerEncoderLayer"]
    assert block["measured"] > 0 and block["holds"] is not None
    assert report["busy_core"] == {}  # the quick run leaves out the busy-core chapter
    assert budgets["chapter 3 with one core busy / quiet"]["holds"] is None
    memory = budgets["attention block: saved bytes per token, longest n / n = 64"]
    assert memory["holds"] is True and 0.5 < memory["measured"] < 1.1  # n = 256 against 64
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


def test_a_budget_that_does_not_hold_fails_the_command(tmp_path, monkeypatch):
    report = {"builds": {"chapters_s": {"chapters/a.md": 151.0}, "cold_build_s": 700.0,
                         "warm_build_s": 31.0},
              "comparisons": [],
              "busy_core": {"chapter": "03.ipynb", "quiet_s": 10.0, "busy_s": 26.0, "ratio": 2.6}}
    checks = {c["budget"]: c["holds"] for c in bench.check_budgets(report)}
    assert checks == {"cold make book": True, "warm make book": False, "slowest chapter": False,
                      "slowest fast path / reference": None,
                      "TransformerBlock / nn.TransformerEncoderLayer": None,
                      "chapter 3 with one core busy / quiet": False,
                      "attention block: saved bytes per token, longest n / n = 64": None}

    def measured(**kwargs):
        return {**report, "budgets": bench.check_budgets(report), "device_name": "cpu",
                "date": "today", "torch": "x", "version": "x", "python": "x",
                "throughput": [], "length_sweep": []}

    monkeypatch.setattr(bench, "run", measured)
    assert bench.main(["--out", str(tmp_path)]) == 1
    report["builds"] = {"chapters_s": {}, "cold_build_s": None, "warm_build_s": None}
    report["busy_core"] = {}
    assert bench.main(["--out", str(tmp_path)]) == 0


def test_memory_that_grows_faster_than_the_length_breaks_its_budget():
    def sweep(bytes_at):
        return [{"model": "attention block", "n": n, "saved_bytes": bytes_at(n)}
                for n in (16, 64, 256, 1024)]

    assert bench.memory_growth(sweep(lambda n: 1000 * n + 5000)) < 1.0  # linear, and a constant
    assert bench.memory_growth(sweep(lambda n: 1000 * n + 4 * n * n)) > 2  # n x n weights kept
    assert bench.memory_growth(sweep(lambda n: n)[:2]) is None  # nothing longer than n = 64
    with pytest.raises(ValueError, match=r"model must be one of \['attention block'\]"):
        bench.memory_growth(sweep(lambda n: n), model="LSTM")
    report = {"builds": {"chapters_s": {}, "cold_build_s": None, "warm_build_s": None},
              "comparisons": [], "length_sweep": sweep(lambda n: 1000 * n + 4 * n * n)}
    (memory,) = [c for c in bench.check_budgets(report) if c["budget"].startswith("attention")]
    assert memory["holds"] is False


def test_busy_core_keeps_a_core_busy_until_the_body_ends():
    with bench.busy_core() as hog:
        time.sleep(0.5)
        assert hog.poll() is None  # still running
        with open(f"/proc/{hog.pid}/stat") as f:  # utime + stime, in clock ticks
            fields = f.read().rsplit(")", 1)[1].split()
        assert int(fields[11]) + int(fields[12]) > 0
    assert hog.poll() is not None


def test_missing_build_information_is_reported_as_not_measured(tmp_path):
    report = {"builds": bench.build_times(tmp_path), "comparisons": []}
    checks = bench.check_budgets(report)
    assert all(c["holds"] is None for c in checks)


@pytest.mark.slow
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


def test_a_budget_is_scaled_by_the_machines_speed():
    # a machine at half the reference speed gets twice the time
    assert bench.scaled_budget(950, bench.REFERENCE_CALIBRATION / 2) == pytest.approx(1900)
    assert bench.scaled_budget(950, None) == 950
    with pytest.raises(ValueError, match="positive calibration figure, got 0"):
        bench.scaled_budget(950, 0)
    rows = [{"tokens_per_s": 1000.0, "median_s": 1.0}, {"tokens_per_s": 3000.0, "median_s": 1.0}]
    assert bench.combined_tokens_per_s(rows) == pytest.approx(2000.0)  # all tokens / all time
    report = {"builds": {"chapters_s": {"chapters/a.md": 200.0}, "cold_build_s": 1500.0,
                         "warm_build_s": 3.0},
              "comparisons": [], "busy_core": {},
              "throughput": [{"tokens_per_s": bench.REFERENCE_CALIBRATION / 2, "median_s": 0.1}]}
    checks = {c["budget"]: c for c in bench.check_budgets(report)}
    assert checks["cold make book"]["limit"] == pytest.approx(2780)
    assert checks["cold make book"]["holds"] and checks["slowest chapter"]["holds"]


def test_chapters_that_shared_the_machine_get_their_share_of_the_budget():
    # two at a time, one thread each: a chapter had half the machine, so twice the time
    report = {"builds": {"chapters_s": {"chapters/a.md": 250.0}, "cold_build_s": 700.0,
                         "warm_build_s": 3.0, "jobs": 2},
              "comparisons": [], "busy_core": {},
              "throughput": [{"tokens_per_s": bench.REFERENCE_CALIBRATION, "median_s": 0.1}]}
    checks = {c["budget"]: c for c in bench.check_budgets(report)}
    chapter = checks["slowest chapter (2 at a time, 1 thread each)"]
    assert chapter["limit"] == pytest.approx(2 * bench.BUDGETS["chapter_s"])
    assert chapter["holds"] is True


def test_the_calibration_is_the_best_of_its_runs(monkeypatch):
    speeds = iter([100.0, 300.0, 200.0])  # a slow first run (the machine waking up) is dropped
    monkeypatch.setattr(bench, "throughput", lambda device, repeats: [
        {"model": "m", "tokens_per_s": next(speeds), "median_s": 1.0}])
    figure = bench.calibration(torch.device("cpu"), repeats=1, runs=3)
    assert figure["tokens_per_s"] == 300.0 and figure["by_model"] == {"m": 300.0}
