#!/usr/bin/env bash
# Wheels for what the chapters need and a lent GPU machine's image lacks, into .whl/ (ignored):
#
#   bash scripts/device_wheels.sh            # Python 3.12 wheels, the lent machine's Python
#   PYTHON_VERSION=3.11 bash scripts/device_wheels.sh   # to try the same list on this machine
#
# The image (see the device tool's KINDS.md) has PyTorch with CUDA, numpy, pandas, tqdm, pytest,
# onnx and onnxruntime, but none of the notebook stack: executing a chapter needs nbclient and a
# Jupyter kernel, and the chapters import altair and ipywidgets. The list below is that stack's
# dependency closure less what the image holds (measured: scripts/device_check.sh fails with the
# missing module's name if one is left out). The versions are the book's own pins in
# requirements.txt, so a lent machine runs the chapters with the same notebook stack as the site.
# It needs the package registry (pip download); the lent machine needs none: pass `.whl` in the
# run's carry and scripts/device_check.sh installs them there.
set -euo pipefail
cd "$(dirname "$0")/.."
python_version=${PYTHON_VERSION:-3.12}
needed=(
  altair asttokens comm debugpy executing fastjsonschema ipykernel ipython ipython_pygments_lexers
  ipywidgets jedi jsonschema jsonschema-specifications jupyter_client jupyter_core
  jupyterlab_widgets matplotlib-inline nbclient nbformat nest-asyncio2 parso pexpect platformdirs
  prompt_toolkit ptyprocess pure_eval pyzmq referencing rpds-py stack_data tornado traitlets
  tzdata wcwidth widgetsnbextension
)
pins=()
for name in "${needed[@]}"; do
  # requirements.txt spells names as pip-compile writes them; compare them normalised (PEP 503)
  pattern=$(sed 's/[-_.]/[-_.]/g' <<<"$name")
  pin=$(grep -iE "^${pattern}==" requirements.txt || true)
  [[ -n $pin ]] || { echo "$name is not pinned in requirements.txt: add it to requirements.in" >&2; exit 1; }
  pins+=("$pin")
done
rm -rf .whl && mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest .whl \
  --python-version "$python_version" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 "${pins[@]}"
echo "$(ls .whl | wc -l) wheels, $(du -sh .whl | cut -f1), for Python $python_version in .whl/"
