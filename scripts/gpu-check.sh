#!/usr/bin/env bash
# Runs the GPU tests and the training benchmark on CUDA, in under 5 minutes on one GPU.
# CI has no GPU: there the GPU tests skip and this script is not run. Usage:
#   scripts/gpu-check.sh            (python from PATH; PYTHON=... to choose another)
# Exit codes: 0 all passed, 1 a test or the benchmark failed, 3 no CUDA device visible.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu-check: no CUDA device visible to torch $("$PY" -c 'import torch; print(torch.__version__, "(CUDA build:", torch.version.cuda, ")")'); nothing checked" >&2
  exit 3
fi
"$PY" -c "import torch; print('gpu-check:', torch.cuda.get_device_name(0), 'torch', torch.__version__, 'CUDA', torch.version.cuda)"

status=0
echo "== GPU tests (tests/nn/test_gpu.py) =="
timeout 150 "$PY" -m pytest tests/nn/test_gpu.py -m gpu -q -p no:cacheprovider -rs || status=1

echo "== training benchmark on CUDA (digits tiled to 100k rows, 3 epochs) =="
timeout 120 "$PY" benchmarks/train_bench.py --batches 128,512,2048 --device cuda --rounds 1 || status=1
exit $status
