#!/usr/bin/env bash
# The GPU checks as one command, for a lent GPU machine (or any machine with CUDA):
#
#   bash scripts/device_check.sh          # writes into $OUT (or _build/device-check)
#
# It uses the machine's own python3 with the repository's src/ on the path: a lent machine's
# image has PyTorch with CUDA, pandas, tqdm and pytest, and cannot install anything.
#   1. tests/gpu: the CUDA paths against the CPU's (ensemble, float64 parity, fused attention),
#      the fused optimizer and device-side batches, and that a training step never waits for
#      the GPU between evaluations (about a minute);
#   2. the benchmark, as `make bench` runs it, into $OUT/results/cuda-<device>.json and .md:
#      commit that file (chapter 7 and the benchmarks page read it).
# Timing the chapters also needs the book's notebook stack (jupytext, nbclient, altair, ...):
# where it is installed, `make bench` does both; on a lent machine carry its wheels.
set -euo pipefail
out=${OUT:-_build/device-check}
mkdir -p "$out"
export PYTHONPATH=src PYTHONUNBUFFERED=1 RNN2T_DEVICE=cuda
python3 -c 'import torch; assert torch.cuda.is_available(), "no CUDA device here"
print("torch", torch.__version__, "on", torch.cuda.get_device_name())' | tee "$out/device.txt"
status=0
python3 -m pytest tests/gpu -q -p no:cacheprovider 2>&1 | tee "$out/gpu-tests.log" || status=1
python3 -m rnn2transformer.book.bench --out "$out/results" 2>&1 | tee "$out/bench.log" || status=1
exit $status
