"""The book's benchmark: ``python -m rnn2transformer.book.bench`` (or ``make bench``).

Measures on the current device, with warm-up and repeats (median and spread):

1. training-step throughput (tokens per second, forward + backward + optimizer step) of each
   model family at the sizes the chapters use;
2. the package's fast paths against the PyTorch modules they wrap, and the scratch teaching
   versions against the same references, as time ratios measured in one run;
3. forward + backward time and memory against sequence length for an LSTM layer and an
   attention block (the data behind chapter 7's parallelism chart); the memory budget: the
   attention block's saved memory per token does not grow with n (the fused kernel keeps
   O(n), not the n x n weights);
4. the parallelism sweep: training tokens per second of a character LSTM and Transformer of
   equal parameter count over widths and lengths (chapter 7 runs the same sweep, smaller);
5. on CUDA, the precision policy's evidence: the same training step in float32 (TF32 products)
   and under bf16 autocast, at growing model size;
6. a busy core: chapter 3 executed on a quiet machine and again while another program keeps
   one core busy, and the ratio (``docs/design.md``, "A busy core");
7. each chapter's execution time and the last cold and warm book builds (read from ``_build``);
   with ``--chapters default,full`` (what ``make bench`` asks for on CUDA) it also executes
   every chapter notebook at each scale named and records the seconds.

Writes ``benchmarks/results/<device>.json`` and ``benchmarks/results/<device>.md`` and checks the
budgets (:data:`BUDGETS`); a budget that does not hold makes the command fail, after the
results are written.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import platform
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .. import __version__
from ..device import get_device, set_seed
from ..models.attention import MultiHeadAttention
from ..models.lstm import LSTM
from ..models.pairs import char_lm_pair
from ..models.recurrent import RecurrentConfig, RecurrentModel
from ..models.transformer import TransformerBlock, TransformerConfig, TransformerModel
from ..profiling import parallelism_sweep, time_backward, time_training_step, training_throughput
from ..training import AUTOCAST_MIN_PARAMETERS, count_parameters
from . import RunStamp
from .prose import where_transformer_leads

# The cold build's budget sits above this 2-core machine's spread, not at its best run: four
# quiet cold builds of the same book on 2026-12-02 took 700, 704, 707 and 762 s.
# cold build: 800 s for chapters 1-9 (four quiet builds took 700-762 s), plus 150 s, one
# chapter budget, for chapter 10; then (2026-12-05) 150 s for the book's language models
# trained well once (issue "The book's language models"), 200 s for chapter 11 and 90 s for
# the topics a course expects, the limits their issues set
BUDGETS = {"cold_build_s": 1390.0, "warm_build_s": 30.0, "chapter_s": 150.0, "fast_path_ratio": 1.1,
           # the block at least as fast as PyTorch's; a chapter on a machine with one core
           # taken by another program at most 2.5x its time on a quiet one
           "block_ratio": 1.0, "busy_core_ratio": 2.5,
           # saved bytes per token of a training step's attention block, the longest n over
           # n = MEMORY_BASE_N: about 1 when memory grows linearly (kept n x n weights: ~ n)
           "attention_memory_ratio": 1.1}
MEMORY_BASE_N = 64
BUSY_CORE_CHAPTER = "03_recurrent_networks.ipynb"
# How fast the machine the time budgets were set on is, in the one figure `make test` measures
# (:func:`calibration`): the three character-model training steps of :func:`throughput` taken
# together, from benchmarks/results/cpu.json of 2026-12-02 (150,373, 327,509 and 155,969
# tokens/s). A time budget is scaled by this over the machine's own figure, so that "the book
# got slower" and "the machine is slow" are told apart (CI's machine varies 2.5-3.6x).
REFERENCE_CALIBRATION = 186_162.0


def device_slug(device: torch.device) -> str:
    """A file-name-safe name for the device: 'cpu', 'cuda-nvidia-h100-80gb-hbm3', ..."""
    name = RunStamp(seed=0, device=device).device_name() if device.type == "cuda" else device.type
    if device.type == "cuda":
        name = f"cuda-{name}"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def throughput(device: torch.device, repeats: int) -> list[dict]:
    """Tokens per second of a full training step for each family, at chapter sizes."""
    B, T, V = 32, 128, 65
    lm = dict(vocab_size=V, output_size=V, readout="all", loss="cross_entropy")
    families = {
        "rnn (char LM, ch. 4)": RecurrentModel(RecurrentConfig(kind="rnn", input_size=32,
                                                               hidden_size=256, **lm)),
        "lstm (char LM, ch. 4)": RecurrentModel(RecurrentConfig(kind="lstm", input_size=32,
                                                                hidden_size=128, **lm)),
        "transformer (char LM, ch. 7)": TransformerModel(TransformerConfig(
            d_model=64, n_heads=4, n_layers=2, d_ff=160, causal=True, positions="learned",
            max_len=T, **lm)),
    }
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, V, (B, T), generator=g)
    rows = []
    for name, model in families.items():
        t = time_training_step(model, x, x.roll(-1, 1), device=device, repeats=repeats, warmup=3)
        rows.append({"model": name, "tokens_per_s": B * T / t["median_s"], **t})
    return rows


def combined_tokens_per_s(rows: list[dict]) -> float:
    """The three training steps of :func:`throughput` as one figure: all their tokens over all
    their (median) seconds."""
    return (sum(r["tokens_per_s"] * r["median_s"] for r in rows)
            / sum(r["median_s"] for r in rows))


def calibration(device: torch.device | None = None, repeats: int = 10, runs: int = 3) -> dict:
    """How fast this machine is now, in about ten seconds: :func:`combined_tokens_per_s` of the
    benchmark's character-model steps, the best of ``runs`` (a first run after the machine sat
    idle once measured 120,000 tokens/s and the next three 159,000-162,000), and each family's
    tokens/s in that run."""
    device = device or get_device()
    rows = max((throughput(device, repeats) for _ in range(runs)), key=combined_tokens_per_s)
    return {"tokens_per_s": combined_tokens_per_s(rows), "device": str(device),
            "threads": torch.get_num_threads(),
            "reference_tokens_per_s": REFERENCE_CALIBRATION,
            "by_model": {r["model"]: r["tokens_per_s"] for r in rows}}


def scaled_budget(seconds: float, tokens_per_s: float | None) -> float:
    """A time budget set on the reference machine, for a machine of ``tokens_per_s``
    (:func:`calibration`): longer on a slower machine. Unscaled when the figure is unknown."""
    if tokens_per_s is None:
        return seconds
    if not tokens_per_s > 0:
        raise ValueError(f"tokens_per_s must be a positive calibration figure, got "
                         f"{tokens_per_s!r}")
    return seconds * REFERENCE_CALIBRATION / tokens_per_s


class _ReferenceLSTMModel(nn.Module):
    """What RecurrentModel(kind='lstm') wraps, written directly with torch.nn."""

    def __init__(self, c: RecurrentConfig) -> None:
        super().__init__()
        self.rnn = nn.LSTM(c.input_size, c.hidden_size, batch_first=True)
        self.head = nn.Linear(c.hidden_size, c.output_size)

    def forward(self, x, targets):
        out, _ = self.rnn(x)
        return None, F.mse_loss(self.head(out), targets)


def comparisons(device: torch.device, repeats: int) -> list[dict]:
    """Forward + backward time of each package path against the PyTorch module it stands for."""
    set_seed(0)
    B, T, C = 32, 128, 64
    x = torch.randn(B, T, C, device=device)
    rows = []

    def measure(fn, params) -> dict:
        def zero():
            for p in params:
                p.grad = None
        return time_backward(fn, device=device, repeats=repeats, warmup=3, zero_grad=zero)

    # LSTM: the package's task model on the fused path, and the scratch loop, vs torch.nn.LSTM
    config = RecurrentConfig(kind="lstm", input_size=C, hidden_size=C, output_size=C,
                             readout="all")
    fast = RecurrentModel(config).to(device)
    reference = _ReferenceLSTMModel(config).to(device)
    scratch = LSTM(C, C).to(device)
    y = torch.randn(B, T, C, device=device)
    ref_t = measure(lambda: reference(x, y)[1], list(reference.parameters()))
    rows.append(_ratio("LSTM", "fast: RecurrentModel(lstm)", "torch.nn.LSTM + Linear",
                       measure(lambda: fast(x, y)[1], list(fast.parameters())), ref_t))
    rows.append(_ratio("LSTM", "scratch: rnn2transformer.models.lstm.LSTM", "torch.nn.LSTM",
                       measure(lambda: scratch(x)[0].square().mean(), list(scratch.parameters())),
                       measure(lambda: reference.rnn(x)[0].square().mean(),
                               list(reference.rnn.parameters()))))

    # Attention: MultiHeadAttention on the fused path, and with weights, vs torch
    ours = MultiHeadAttention(C, 4).to(device)
    torch_mha = nn.MultiheadAttention(C, 4, batch_first=True).to(device)
    ref_t = measure(lambda: torch_mha(x, x, x, need_weights=False)[0].square().mean(),
                    list(torch_mha.parameters()))
    rows.append(_ratio("attention", "fast: MultiHeadAttention(need_weights=False)",
                       "torch.nn.MultiheadAttention",
                       measure(lambda: ours(x, need_weights=False)[0].square().mean(),
                               list(ours.parameters())), ref_t))
    rows.append(_ratio("attention", "scratch: MultiHeadAttention (weights kept)",
                       "torch.nn.MultiheadAttention",
                       measure(lambda: ours(x)[0].square().mean(), list(ours.parameters())),
                       ref_t))

    # Transformer block vs torch.nn.TransformerEncoderLayer (pre-norm, ReLU, no dropout)
    block = TransformerBlock(C, 4, 4 * C).to(device)
    torch_block = nn.TransformerEncoderLayer(C, 4, 4 * C, dropout=0.0, batch_first=True,
                                             norm_first=True).to(device)
    rows.append(_ratio("transformer block", "fast: TransformerBlock",
                       "torch.nn.TransformerEncoderLayer",
                       measure(lambda: block(x)[0].square().mean(), list(block.parameters())),
                       measure(lambda: torch_block(x).square().mean(),
                               list(torch_block.parameters()))))
    return rows


def _ratio(family: str, ours: str, reference: str, ours_t: dict, ref_t: dict) -> dict:
    return {"family": family, "package": ours, "reference": reference,
            "package_ms": 1000 * ours_t["median_s"], "reference_ms": 1000 * ref_t["median_s"],
            "package_spread_ms": 1000 * (ours_t["max_s"] - ours_t["min_s"]),
            "ratio": ours_t["median_s"] / ref_t["median_s"],
            "is_fast_path": ours.startswith("fast")}


def length_sweep(device: torch.device, repeats: int, lengths: list[int]) -> list[dict]:
    """Forward + backward time and memory against n: an LSTM layer vs an attention block."""
    contenders = {
        "LSTM layer": RecurrentModel(RecurrentConfig(kind="lstm", input_size=64, hidden_size=64,
                                                     readout="all", output_size=64)),
        "attention block": TransformerModel(TransformerConfig(input_size=64, d_model=64,
                                                              n_heads=4, n_layers=1, d_ff=256,
                                                              readout="all", output_size=64)),
    }
    rows = []
    for name, model in contenders.items():
        model.to(device)
        for n in lengths:
            x, y = torch.randn(8, n, 64, device=device), torch.randn(8, n, 64, device=device)
            t = time_backward(lambda m=model, a=x, b=y: m(a, b)[1], device=device,
                              repeats=repeats, warmup=1,
                              zero_grad=lambda m=model: m.zero_grad(set_to_none=True))
            rows.append({"model": name, "n": n, **t})
    return rows


def parallelism(device: torch.device, repeats: int, quick: bool) -> list[dict]:
    """Chapter 7's equal-parameter throughput sweep, at the benchmark's (larger) sizes."""
    if quick:
        widths, lengths, tokens = [32, 64], [64, 256], 2048
    elif device.type == "cuda":
        widths, lengths, tokens = [64, 128, 256, 512, 1024], [128, 512, 2048], 16384
    else:  # a laptop CPU: the sizes of chapter 7's default scale
        widths, lengths, tokens = [32, 64, 128, 256], [64, 256, 1024], 4096
    sweep = parallelism_sweep(widths, lengths, device=device, tokens_per_step=tokens,
                              repeats=max(3, repeats // 5), progress=False)
    return sweep.to_dict("records")


def precision(device: torch.device, repeats: int, quick: bool) -> list[dict]:
    """Transformer training tokens/s in float32 (TF32 on CUDA) and under bf16 autocast, by
    size: the evidence for ``AUTOCAST_MIN_PARAMETERS``. CUDA only (empty elsewhere)."""
    if device.type != "cuda":
        return []
    torch.backends.cuda.matmul.allow_tf32 = True  # as train() sets it
    rows = []
    for width in [64, 256] if quick else [64, 128, 256, 512, 1024]:
        model = char_lm_pair(width)["Transformer"]
        result = {"width": width, "parameters": count_parameters(model),
                  "policy_bf16": count_parameters(model) >= AUTOCAST_MIN_PARAMETERS}
        for label, flag in [("fp32_tokens_per_s", False), ("bf16_tokens_per_s", True)]:
            result[label] = training_throughput(model, length=256, tokens_per_step=16384,
                                                device=device, repeats=max(2, repeats // 3),
                                                mixed_precision=flag)["tokens_per_s"]
        rows.append(result)
    return rows


@contextlib.contextmanager
def busy_core():
    """Keep one core busy with another program (a Python loop that never waits) while the
    body runs, as a reader's browser or editor would."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield hog
    finally:
        hog.kill()
        hog.wait()


def busy_core_times(chapter_dir: Path, quick: bool) -> dict:
    """Chapter 3 (:data:`BUSY_CORE_CHAPTER`) executed on a quiet machine and with one core
    kept busy (:func:`busy_core`), in seconds, and their ratio. Skipped with ``quick``."""
    path = chapter_dir / BUSY_CORE_CHAPTER
    if quick or not path.exists():
        return {}
    quiet = chapter_times([path], ["default"])["default"][path.name]
    with busy_core():
        busy = chapter_times([path], ["default"])["default"][path.name]
    ratio = busy / quiet if isinstance(quiet, float) and isinstance(busy, float) else None
    return {"chapter": path.name, "quiet_s": quiet, "busy_s": busy, "ratio": ratio}


def chapter_times(notebooks: list[Path], scales: list[str], *, timeout: int = 3600) -> dict:
    """Execute each notebook at each ``RNN2T_SCALE`` and return ``{scale: {name: seconds}}``.

    Each run is a fresh kernel with ``RNN2T_SCALE`` set, in the notebook's folder (as the book
    build runs it). A run that fails records its error instead of a time.
    """
    import os
    import time

    import nbclient
    import nbformat

    from ..settings import ENV_SCALE, SCALES

    for name in scales:
        if name not in SCALES:
            raise ValueError(f"scales must be among {list(SCALES)}, got {name!r}")
    results: dict = {}
    previous = os.environ.get(ENV_SCALE)
    try:
        for name in scales:
            os.environ[ENV_SCALE] = name  # the kernel inherits the environment
            results[name] = {}
            for path in notebooks:
                nb = nbformat.read(path, as_version=4)
                started = time.perf_counter()
                try:
                    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                            resources={"metadata": {"path": str(path.parent)}}
                                            ).execute()
                    results[name][path.name] = time.perf_counter() - started
                except Exception as error:  # report it in the results, keep measuring
                    # a cell's error names itself (ename, evalue: a missing module, say)
                    what = (f"{error.ename}: {error.evalue}" if hasattr(error, "ename")
                            else f"{type(error).__name__}: {error}")
                    results[name][path.name] = f"failed: {' '.join(what.split())}"[:300]
                # one line per chapter, so a run cut short by a time limit still says how far
                # it got (a lent GPU's commands have one)
                seconds = results[name][path.name]
                print(f"{name} scale: {path.name}: "
                      + (f"{seconds:.1f} s" if isinstance(seconds, float) else seconds),
                      flush=True)
    finally:
        if previous is None:
            os.environ.pop(ENV_SCALE, None)
        else:
            os.environ[ENV_SCALE] = previous
    return results


def build_times(build_dir: Path) -> dict:
    """Chapter execution times and the last cold/warm builds, if the book has been built."""
    result: dict = {"chapters_s": {}, "cold_build_s": None, "warm_build_s": None, "jobs": 1}
    times = build_dir / "execution-times.json"
    if times.exists():
        result["chapters_s"] = json.loads(times.read_text())
    builds = build_dir / "build-times.json"
    if builds.exists():
        recorded = json.loads(builds.read_text())
        result["cold_build_s"] = recorded.get("cold")
        result["warm_build_s"] = recorded.get("warm")
        result["jobs"] = recorded.get("cold_jobs", 1)
    return result


def memory_growth(rows: list[dict], model: str = "attention block") -> float | None:
    """Saved bytes per token of ``model`` at the longest length of :func:`length_sweep` over
    those at n = :data:`MEMORY_BASE_N` (None where the sweep has no longer length)."""
    per_token = {r["n"]: r["saved_bytes"] / r["n"] for r in rows if r["model"] == model}
    if rows and not per_token:
        raise ValueError(f"model must be one of {sorted({r['model'] for r in rows})}, got "
                         f"{model!r}")
    if MEMORY_BASE_N not in per_token or max(per_token) == MEMORY_BASE_N:
        return None
    return per_token[max(per_token)] / per_token[MEMORY_BASE_N]


def check_budgets(report: dict) -> list[dict]:
    """Each budget with the measured figure and whether it holds (None: not measured)."""
    builds = report["builds"]
    # the build's time budgets, scaled to this machine's speed (the same run's throughput)
    speed = combined_tokens_per_s(report["throughput"]) if report.get("throughput") else None
    fast = [r for r in report["comparisons"] if r["is_fast_path"]]
    block = [r["ratio"] for r in fast if r["family"] == "transformer block"]
    busy = report.get("busy_core", {}).get("ratio")
    chapters = builds["chapters_s"]
    checks = [  # name, measured, limit, unit, whether the limit is a minimum
        ("cold make book", builds["cold_build_s"],
         round(scaled_budget(BUDGETS["cold_build_s"], speed), 1), "s", False),
        ("warm make book", builds["warm_build_s"], BUDGETS["warm_build_s"], "s", False),
        # a chapter that shared the machine with jobs - 1 others, on one thread, had 1/jobs of
        # it: at most jobs times its budget alone (one thread cost 1.06-1.67x, docs/design.md)
        ("slowest chapter" + (f" ({builds['jobs']} at a time, 1 thread each)"
                              if builds.get("jobs", 1) > 1 else ""),
         max(chapters.values()) if chapters else None,
         round(builds.get("jobs", 1) * scaled_budget(BUDGETS["chapter_s"], speed), 1), "s",
         False),
        ("slowest fast path / reference", max(r["ratio"] for r in fast) if fast else None,
         BUDGETS["fast_path_ratio"], "x", False),
        ("TransformerBlock / nn.TransformerEncoderLayer", block[0] if block else None,
         BUDGETS["block_ratio"], "x", False),
        ("chapter 3 with one core busy / quiet", busy, BUDGETS["busy_core_ratio"], "x", False),
        (f"attention block: saved bytes per token, longest n / n = {MEMORY_BASE_N}",
         memory_growth(report.get("length_sweep", [])), BUDGETS["attention_memory_ratio"], "x",
         False),
    ]
    return [{"budget": name, "measured": value, "limit": limit, "unit": unit,
             "at_least": at_least,
             "holds": None if value is None else bool(value >= limit if at_least
                                                      else value <= limit)}
            for name, value, limit, unit, at_least in checks]


def markdown(report: dict) -> str:
    """The report as readable Markdown tables."""
    lines = [f"# Benchmark on {report['device_name']}", "",
             f"{report['date']}, torch {report['torch']}, rnn2transformer {report['version']}, "
             f"Python {report['python']}", ""]
    if report.get("calibration"):
        c = report["calibration"]
        lines += [f"Calibration: {c['tokens_per_s']:,.0f} tokens/s (the three character-model "
                  f"training steps together; the budgets' reference machine: "
                  f"{c['reference_tokens_per_s']:,.0f}), so the time budgets are scaled by "
                  f"{c['reference_tokens_per_s'] / c['tokens_per_s']:.2f}.", ""]
    lines += ["## Budgets", "", "| budget | measured | limit | holds |", "|---|---|---|---|"]
    for b in report["budgets"]:
        measured = "not measured" if b["measured"] is None else f"{b['measured']:.2f} {b['unit']}"
        holds = {None: "-", True: "yes", False: "NO"}[b["holds"]]
        limit = f"{'at least ' if b.get('at_least') else ''}{b['limit']} {b['unit']}"
        lines.append(f"| {b['budget']} | {measured} | {limit} | {holds} |")
    lines += ["", "## Training throughput", "", "| model | tokens/s | step ms (median) |",
              "|---|---|---|"]
    for r in report["throughput"]:
        lines.append(f"| {r['model']} | {r['tokens_per_s']:,.0f} | {1000 * r['median_s']:.2f} |")
    lines += ["", "## Package vs PyTorch reference (forward + backward)", "",
              "| family | package | reference | package ms | reference ms | ratio |",
              "|---|---|---|---|---|---|"]
    for r in report["comparisons"]:
        lines.append(f"| {r['family']} | {r['package']} | {r['reference']} | "
                     f"{r['package_ms']:.2f} | {r['reference_ms']:.2f} | {r['ratio']:.2f} |")
    if report.get("parallelism"):
        lead = where_transformer_leads(pd.DataFrame(report["parallelism"]))
        lines += ["", "## Training throughput at equal parameters (tokens/s)", "",
                  f"On this device {lead['sentence']}.", "",
                  "| width | length | parameters | LSTM | Transformer | ratio |",
                  "|---|---|---|---|---|---|"]
        rows = {(r["width"], r["length"], r["family"]): r for r in report["parallelism"]}
        for (width, length), ratio in lead["ratio"].items():
            lstm, tf = rows[width, length, "LSTM"], rows[width, length, "Transformer"]
            lines.append(f"| {width} | {length} | {tf['parameters']:,} | "
                         f"{lstm['tokens_per_s']:,.0f} | {tf['tokens_per_s']:,.0f} | "
                         f"{ratio:.2f} |")
    if report.get("precision"):
        lines += ["", "## Precision: float32 (TF32) against bf16 autocast (tokens/s)", "",
                  "| width | parameters | fp32 | bf16 | bf16 / fp32 | policy picks |",
                  "|---|---|---|---|---|---|"]
        for r in report["precision"]:
            lines.append(f"| {r['width']} | {r['parameters']:,} | {r['fp32_tokens_per_s']:,.0f} "
                         f"| {r['bf16_tokens_per_s']:,.0f} | "
                         f"{r['bf16_tokens_per_s'] / r['fp32_tokens_per_s']:.2f} | "
                         f"{'bf16' if r['policy_bf16'] else 'fp32'} |")
    if report.get("busy_core"):
        b = report["busy_core"]
        lines += ["", "## A busy core: one chapter, quiet and with one core kept busy", "",
                  "| chapter | quiet s | busy s | ratio |", "|---|---|---|---|",
                  f"| {b['chapter']} | {_seconds(b['quiet_s'])} | {_seconds(b['busy_s'])} | "
                  f"{b['ratio']:.2f} |" if b["ratio"] is not None else
                  f"| {b['chapter']} | {b['quiet_s']} | {b['busy_s']} | - |"]
    lines += ["", "## LSTM layer vs attention block, forward + backward", "",
              "| n | model | ms | saved MB | peak MB |", "|---|---|---|---|---|"]
    for r in report["length_sweep"]:
        peak = "-" if r["peak_bytes"] != r["peak_bytes"] else f"{r['peak_bytes'] / 1e6:.1f}"
        lines.append(f"| {r['n']} | {r['model']} | {1000 * r['median_s']:.2f} | "
                     f"{r['saved_bytes'] / 1e6:.1f} | {peak} |")
    for scale_name, times in report.get("chapters_by_scale", {}).items():
        lines += ["", f"## Chapter notebooks at RNN2T_SCALE={scale_name}", "",
                  "| chapter | seconds |", "|---|---|"]
        for name, seconds in times.items():
            shown = f"{seconds:.1f}" if isinstance(seconds, float) else seconds
            lines.append(f"| {name} | {shown} |")
    if report["builds"]["chapters_s"]:
        lines += ["", "## Chapter execution times", "", "| chapter | seconds |", "|---|---|"]
        for name, seconds in report["builds"]["chapters_s"].items():
            lines.append(f"| {name} | {seconds:.1f} |")
    return "\n".join(lines) + "\n"


def _seconds(value) -> str:
    """A time in seconds, or the error a run recorded instead of one."""
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def run(*, repeats: int = 15, quick: bool = False, out_dir: Path = Path("benchmarks/results"),
        build_dir: Path = Path("_build"), chapters: list[str] | None = None,
        chapter_dir: Path = Path("chapters")) -> dict:
    device = get_device()
    set_seed(0)
    lengths = [16, 64, 256] if quick else [16, 32, 64, 128, 256, 512, 1024, 2048]
    if device.type == "cuda" and not quick:
        lengths += [4096, 8192]
    report = {
        "device": str(device),
        "device_name": RunStamp(seed=0, device=device).device_name(),
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "version": __version__,
        "repeats": repeats,
        "throughput": throughput(device, repeats),
        "comparisons": comparisons(device, repeats),
        "length_sweep": length_sweep(device, max(2, repeats // 2), lengths),
        "parallelism": parallelism(device, repeats, quick),
        "precision": precision(device, repeats, quick),
        "busy_core": busy_core_times(chapter_dir, quick),
        "builds": build_times(build_dir),
    }
    if chapters:  # chapter notebooks at each scale asked for (slow: the whole book per scale)
        report["chapters_by_scale"] = chapter_times(sorted(chapter_dir.glob("*.ipynb")),
                                                    chapters)
    report["calibration"] = {"tokens_per_s": combined_tokens_per_s(report["throughput"]),
                             "reference_tokens_per_s": REFERENCE_CALIBRATION}
    report["budgets"] = check_budgets(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    slug = device_slug(device)
    (out_dir / f"{slug}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / f"{slug}.md").write_text(markdown(report))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="fewer lengths (for tests)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--build-dir", type=Path, default=Path("_build"))
    parser.add_argument("--chapters", default="",
                        help="also execute every chapter at these scales, e.g. default,full")
    parser.add_argument("--calibrate", type=Path, metavar="JSON",
                        help="only measure the machine's calibration figure into JSON")
    args = parser.parse_args(argv)
    if args.calibrate:
        figure = calibration()
        args.calibrate.parent.mkdir(parents=True, exist_ok=True)
        args.calibrate.write_text(json.dumps(figure, indent=2) + "\n")
        print(f"calibration: {figure['tokens_per_s']:,.0f} tokens/s on {figure['device']} "
              f"({figure['threads']} threads; the budgets' reference machine: "
              f"{REFERENCE_CALIBRATION:,.0f})")
        return 0
    report = run(repeats=args.repeats, quick=args.quick, out_dir=args.out,
                 build_dir=args.build_dir,
                 chapters=[s for s in args.chapters.split(",") if s] or None)
    print(markdown(report))
    failed = [b["budget"] for b in report["budgets"] if b["holds"] is False]
    if failed:
        print("budgets that do not hold: " + "; ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
