import json

import numpy as np
import pytest
import torch

from rnn2transformer.book import against_baseline, glue, start_run
from rnn2transformer.book.exercises import autograd_derivative, check_function
from rnn2transformer.book.explorers import gradient_explorer


def test_run_stamp_names_device_versions_seed_and_time():
    run = start_run(seed=7, device="cpu")
    table = run.stamp()
    assert list(table.index) == ["device", "torch", "python", "rnn2transformer", "seed",
                                 "wall time"]
    assert table.loc["torch", "value"] == torch.__version__
    assert table.loc["seed", "value"] == "7"
    assert table.loc["device", "value"].startswith("cpu")
    assert 0 <= run.elapsed() < 60  # seconds since the run began, not a clock reading


def test_glue_hands_plain_numbers_to_the_prose():
    assert type(glue("x", np.float64(1.5))) is float
    assert type(glue("y", torch.tensor(2))) is int
    with pytest.raises(ValueError, match="non-empty str"):
        glue("", 1)


def test_check_function_reports_each_outcome(capsys):
    reference = autograd_derivative(torch.sigmoid)
    inputs = [torch.linspace(-3, 3, 7)]

    def not_done(z):
        raise NotImplementedError

    assert not check_function(not_done, reference, inputs)
    assert "Not done yet" in capsys.readouterr().out
    assert not check_function(lambda z: z * 0.25, reference, inputs)
    assert "expected" in capsys.readouterr().out
    assert not check_function(lambda z: z[:2], reference, inputs)
    assert "shape (7,)" in capsys.readouterr().out
    assert check_function(lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)), reference, inputs)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(ValueError, match="at least one"):
        check_function(not_done, reference, [])


def test_a_wrong_answer_is_reported_at_the_element_that_is_wrong(capsys):
    # Elementwise: the message names the input whose output is wrong (2.0 -> 4, expected 3).
    inputs = [torch.tensor([0.0, 1.0, 2.0])]
    wrong = lambda z: torch.where(z == 2, z * 2, z + 1)  # noqa: E731
    assert not check_function(wrong, lambda z: z + 1, inputs)
    assert "at input 2 your function gives 4, expected 3" in capsys.readouterr().out
    # More outputs than inputs (the review's shift_block crash): the output index is named,
    # for the right test input, and nothing raises.
    outer = lambda z: torch.outer(z, z)  # noqa: E731
    off = lambda z: outer(z) + torch.eye(len(z))[[1]].T @ torch.eye(len(z))[[2]]  # noqa: E731
    inputs = [torch.ones(3), torch.arange(3.0)]
    assert not check_function(off, outer, inputs)
    assert "for test input 1 of 2, at output index [1, 2]" in capsys.readouterr().out


def test_gradient_explorer_recomputes_when_a_control_moves():
    explorer = gradient_explorer(n_examples=64)
    before, summary = explorer.result.copy(), explorer.summary
    assert len(before) == explorer.controls["depth"].value
    explorer.controls["depth"].value = 4
    assert len(explorer.result) == 4
    explorer.controls["activation"].value = "relu"
    after = explorer.result
    assert not np.allclose(after["delta_norm"], before["delta_norm"].iloc[:4])
    assert explorer.summary != summary and "layer 4" in explorer.summary


def test_forget_gate_explorer_shows_the_bias_keeping_memory():
    from rnn2transformer.book.explorers import forget_gate_explorer

    explorer = forget_gate_explorer()
    assert list(explorer.result["character"]) == list(explorer.controls["text"].value)
    closed = explorer.result["dc_T/dc_t"].iloc[0]
    explorer.controls["forget_bias"].value = 3.0
    opened = explorer.result["dc_T/dc_t"].iloc[0]
    assert explorer.result["forget"].mean() > 0.9 and opened > 1000 * closed
    explorer.controls["text"].value = "abc"
    assert len(explorer.result) == 3 and explorer.result["dc_T/dc_t"].iloc[-1] == 1.0


def test_attention_scaling_explorer_saturates_without_the_scaling():
    from rnn2transformer.book.explorers import attention_scaling_explorer

    explorer = attention_scaling_explorer()
    assert abs(explorer.result["weight"].sum() - 1) < 1e-5
    explorer.controls["d_k"].value = 1024
    scaled = explorer.result["weight"].max()
    explorer.controls["scaled"].value = False
    assert explorer.result["weight"].max() > 0.99 > scaled
    assert "largest weight 1.00" in explorer.summary


def test_positions_explorer_shows_equivariance_without_positions():
    from rnn2transformer.book.explorers import positions_explorer

    explorer = positions_explorer()
    assert explorer.result["shuffle_gap"].max() < 1e-5  # no positions: order is invisible
    explorer.controls["positions"].value = "sinusoidal"
    assert explorer.result["shuffle_gap"].max() > 1e-2
    explorer.controls["n_heads"].value = 8
    assert len(explorer.head_entropy) == 8


def test_a_self_check_shows_one_line_and_no_stray_value(capsys):
    from IPython.core.formatters import DisplayFormatter

    result = check_function(lambda z: z, lambda z: z, [torch.zeros(3)], name="identity")
    assert capsys.readouterr().out.strip().splitlines() == [
        "Correct: identity matches the reference on 1 test inputs."]
    assert bool(result) and result.message.startswith("Correct")
    # as a cell's last expression it adds no output (a bare bool would print `True`)
    assert DisplayFormatter().format(result) == ({}, {})
    assert DisplayFormatter().format(True)[0] == {"text/plain": "True"}


def test_ngram_explorer_counts_more_unseen_ngrams_for_longer_orders():
    from rnn2transformer.book.explorers import ngram_explorer

    explorer = ngram_explorer()
    explorer.controls["n"].value = 4
    shares = explorer.result.unseen_test_share.tolist()
    assert len(shares) == 4 and shares == sorted(shares)  # longer n-grams are rarer
    full = shares[-1]
    explorer.controls["vocabulary"].value = 100
    assert explorer.result.unseen_test_share.iloc[-1] < full  # <unk> makes n-grams familiar


def test_freezing_explorer_counts_what_freezing_leaves_trainable():
    from rnn2transformer.book.explorers import freezing_explorer

    explorer = freezing_explorer(length=16, batch=2)
    everything = explorer.trainable
    assert everything == int(explorer.result.parameters.sum())
    explorer.controls["frozen"].value = 2
    frozen = explorer.result.iloc[:2]
    assert (frozen.trainable == 0).all() and explorer.trainable < everything
    explorer.controls["family"].value = "LSTM"
    assert list(explorer.result.part) == ["embed", "rnn", "head"]


def test_streaming_explorer_carries_a_fixed_state_for_the_lstm_only():
    from rnn2transformer.book.explorers import streaming_explorer

    explorer = streaming_explorer()
    kb = explorer.result.set_index("model").state_kb
    explorer.controls["position"].value = 1024
    longer = explorer.result.set_index("model").state_kb
    assert longer["LSTM"] == kb["LSTM"] and longer["Transformer"] > 3 * kb["Transformer"]


def test_scan_explorer_times_loop_and_scan_and_they_agree():
    from rnn2transformer.book.explorers import ScanExplorer

    explorer = ScanExplorer(live=False)
    result = explorer.compute(length=100, width=16)
    assert list(result.way) == ["loop", "scan"] and (result.ms > 0).all()
    assert result.max_difference.iloc[0] < 1e-5  # the same recurrence, two ways
    explorer.result = result
    assert "loop / scan" in explorer.summarize(result)
    explorer.chart().to_dict()


def test_a_build_that_executed_every_chapter_is_cold_whatever_the_appendices_did(tmp_path,
                                                                                   monkeypatch):
    from rnn2transformer.book import buildinfo

    monkeypatch.setattr(buildinfo, "chapter_times", lambda build_dir: {
        "book/distributed.md": 9.0, "chapters/01_a.md": 1.0, "chapters/02_b.md": 2.0})
    log = tmp_path / "build.log"
    for lines, kind in [(["chapters/01_a.md", "chapters/02_b.md"], "cold"),
                        (["chapters/01_a.md"], "partial"), ([], "warm")]:
        log.write_text("".join(f"/repo/{name}: Executing notebook using local CWD\n"
                               for name in ["book/distributed.md", *lines]))
        assert buildinfo.record_build(tmp_path, log, 12.5) == kind
    # myst-nb's own lines: one chapter at a time (make book's prefill says how many, if more)
    assert json.loads((tmp_path / "build-times.json").read_text()) == {
        "cold": 12.5, "cold_jobs": 1, "partial": 12.5, "warm": 12.5}


def test_against_baseline_reads_a_final_loss():
    assert against_baseline(0.16, 1 / 6, solved_below=0.01) == "baseline"
    assert against_baseline(0.09, 1 / 6, solved_below=0.01) == "partway"
    assert against_baseline(0.001, 1 / 6, solved_below=0.01) == "solved"
    assert against_baseline(float("nan"), 1 / 6, solved_below=0.01) == "diverged"
    assert against_baseline(5e13, 1 / 6, solved_below=0.01) == "diverged"  # blew up, finite
    assert against_baseline(1.6, 1 / 6, solved_below=0.01) == "baseline"  # under ten times it
    assert against_baseline(1.7, 1 / 6, solved_below=0.01) == "diverged"
    assert against_baseline(np.float64(0.2), 1 / 6, solved_below=0.01) == "baseline"
    with pytest.raises(ValueError, match="need 0 < solved_below < baseline"):
        against_baseline(0.1, 1 / 6, solved_below=0.5)
    with pytest.raises(TypeError, match="value must be a number, got str"):
        against_baseline("0.1", 1 / 6, solved_below=0.01)


def test_every_explorer_and_every_chapter_that_shows_one_is_registered():
    """The launched-notebook test drives what EXPLORERS lists: one left out goes untested
    (chapter 10's scan explorer was, until its factory registered itself)."""
    import inspect
    import re
    from pathlib import Path

    from rnn2transformer.book import explorers

    factories = {name for name, f in inspect.getmembers(explorers, inspect.isfunction)
                 if name.endswith("_explorer")}
    assert factories == {f.__name__ for f in explorers.EXPLORERS.values()}
    chapters = Path(__file__).parents[2] / "chapters"
    shown = {}
    for page in sorted(chapters.glob("*.md")):
        for name in re.findall(r"^from rnn2transformer\.book\.explorers import (\w+_explorer)$",
                               page.read_text(), re.M):
            shown[page.stem] = name
    assert shown == {chapter: f.__name__ for chapter, f in explorers.EXPLORERS.items()}
    with pytest.raises(ValueError, match="01_neural_networks has an explorer already"):
        explorers.shown_in("01_neural_networks")(lambda: None)
