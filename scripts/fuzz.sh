#!/usr/bin/env bash
# Runs the CLI fuzz module (tests/safety/test_fuzz.py) N times, each with a fresh seed, and
# prints every seed with its verdict. CI runs the module on one fixed seed so that its verdict
# depends on the code alone; fresh draws find new inputs, and this is where they are drawn.
#
#   scripts/fuzz.sh [N]        N runs (default 5); exit 0 only if every run passed
#
# A failing run names its seed: MLSTRAT_FUZZ_SEED=<seed> pytest tests/safety/test_fuzz.py
# replays it. MLSTRAT_FUZZ_N (inputs per run, default 1 050) passes through.
set -uo pipefail

runs="${1:-5}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz: N must be a positive whole number of runs, got '$runs' (e.g. scripts/fuzz.sh 5)" >&2
  exit 2
fi
cd "$(dirname "$0")/.." || exit 2
PY=.venv/bin/python
unset CI  # the fixed CI seed is exactly what these runs are not for

failed=0
for ((i = 1; i <= runs; i++)); do
  seed=$($PY -c 'import secrets; print(secrets.randbelow(2**32))')
  if MLSTRAT_FUZZ_SEED="$seed" $PY -m pytest -q -p no:cacheprovider tests/safety/test_fuzz.py >"/tmp/mlstrat-fuzz-$seed.log" 2>&1; then
    echo "run $i/$runs: seed $seed passed"
  else
    failed=$((failed + 1))
    echo "run $i/$runs: seed $seed FAILED (log: /tmp/mlstrat-fuzz-$seed.log)"
  fi
done
echo "fuzz: $((runs - failed))/$runs runs passed"
[ "$failed" -eq 0 ]
