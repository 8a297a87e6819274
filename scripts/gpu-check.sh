#!/usr/bin/env bash
# Runs the GPU tests, the learning-rate range test and a pruned search through the CLI, and the
# training benchmark on CUDA, in under 5 minutes on one GPU (each step has its own time limit;
# the limits add up to under 6 minutes, a typical run takes 2 to 3).
# CI has no GPU: there the GPU tests skip and this script is not run. Usage:
#   scripts/gpu-check.sh            (python from PATH; PYTHON=... to choose another)
# Exit codes: 0 all passed, 1 a test, a step or the benchmark failed, 3 no CUDA device visible.
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
echo "== GPU tests (tests/nn/test_gpu.py: training, lr-find, lr = \"find\", pruned tune on CUDA) =="
timeout 170 "$PY" -m pytest tests/nn/test_gpu.py -m gpu -q -p no:cacheprovider -rs || status=1

# The CLI steps work in a folder of their own, removed on exit: the bundled digits, split 60/10/15/15.
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
timeout 30 "$PY" - "$work" <<'PY' || status=1
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mlstrat.scenarios import build_digits_manifest

work = Path(sys.argv[1])
table = build_digits_manifest()
u = np.random.default_rng(0).random(table.num_rows)
split = np.where(u < 0.6, "train", np.where(u < 0.7, "train_dev", np.where(u < 0.85, "dev", "test")))
pq.write_table(table.append_column("split", pa.array(split)), work / "digits.parquet")
train = ('[data]\nmanifest = "digits.parquet"\nfeature_prefix = "px_"\n[model]\nhidden = [16]\n'
         '[optim]\nepochs = 4\nbatch_size = 256\ndevice = "cuda"\n')
(work / "digits.toml").write_text(train)
(work / "tune.toml").write_text(train + '[tune]\nbudget = 4\nseed = 0\nprune_startup = 2\nprune_warmup = 1\n'
                                '[tune.space]\nlr = [1e-4, 1.0]\n')
PY

echo "== mlstrat lr-find on CUDA (100 steps) =="
(cd "$work" && timeout 45 "$PY" -m mlstrat lr-find digits.toml --steps 100 --no-record --json > lr-find.json) &&
  "$PY" -c "import json, math, sys; d = json.load(open(sys.argv[1])); assert math.isfinite(d['suggestion']) and d['steps'] > 10, d; print('gpu-check: suggested lr', d['suggestion'], 'after', d['steps'], 'steps')" "$work/lr-find.json" ||
  status=1

echo "== mlstrat tune on CUDA (4 trials, pruning on) =="
(cd "$work" && timeout 60 "$PY" -m mlstrat tune tune.toml -o tune --no-record --json > tune.json) &&
  "$PY" -c "import json, sys; d = json.load(open(sys.argv[1])); states = [t['state'] for t in d['trials']]; assert d['prune'] and len(states) == 4 and set(states) <= {'complete', 'pruned'}, d; print('gpu-check: trials', states)" "$work/tune.json" ||
  status=1

echo "== training benchmark on CUDA (digits tiled to 100k rows, 3 epochs), float32 then mixed precision =="
timeout 120 "$PY" benchmarks/train_bench.py --batches 128,512,2048 --device cuda --rounds 1 || status=1
timeout 120 "$PY" benchmarks/train_bench.py --batches 128,512,2048 --device cuda --rounds 1 --precision bf16 || status=1
exit $status
