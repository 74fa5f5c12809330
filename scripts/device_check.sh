#!/usr/bin/env bash
# The GPU checks as one command, for a lent GPU machine (or any machine with CUDA):
#
#   bash scripts/device_check.sh          # writes into $OUT (or _build/device-check)
#
# It uses the machine's own python3 with the repository's src/ on the path: a lent machine's
# image has PyTorch with CUDA, pandas, tqdm and pytest, and cannot fetch anything.
#   1. tests/gpu: the CUDA paths against the CPU's (float64 parity with the CPU, fused attention),
#      the fused optimizer and device-side batches, and that a training step never waits for
#      the GPU between evaluations (about a minute);
#   2. the benchmark, as `make bench` runs it, into $OUT/results/cuda-<device>.json and .md:
#      commit that file (chapter 7 and the benchmarks page read it).
#   3. with the notebook stack's wheels in .whl/ (made here by scripts/device_wheels.sh, sent
#      with the run's `carry: [".whl"]`), the benchmark also executes every chapter at the
#      scales in CHAPTER_SCALES (default: "default"; "default,full" for both) and records
#      their seconds; each chapter's time is printed as it finishes, so a run cut short by the
#      command's time limit still says how far it got (bench.log).
set -euo pipefail
out=${OUT:-_build/device-check}
mkdir -p "$out"
# absolute: the chapters' kernels run in chapters/
export PYTHONPATH="$PWD/src" PYTHONUNBUFFERED=1 RNN2T_DEVICE=cuda
if [[ -d .whl ]]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/device-site .whl/*.whl
  export PYTHONPATH="$PWD/src:/tmp/device-site"
  chapters=(--chapters "${CHAPTER_SCALES:-default}")
else
  chapters=()
fi
python3 -c 'import torch; assert torch.cuda.is_available(), "no CUDA device here"
print("torch", torch.__version__, "on", torch.cuda.get_device_name())' | tee "$out/device.txt"
status=0
python3 -m pytest tests/gpu -q -p no:cacheprovider 2>&1 | tee "$out/gpu-tests.log" || status=1
python3 -m rnn2transformer.book.bench --out "$out/results" "${chapters[@]}" 2>&1 \
  | tee "$out/bench.log" || status=1
exit $status
