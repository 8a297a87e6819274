#!/usr/bin/env bash
# Runs the tests most exposed to timing (Spark, headless Chromium, DDP, killed processes) N times
# under load: one CPU burner per core runs beside them, so that a test relying on timing, a
# port chosen in advance or the order of processes shows up as a failed round.
#
#   scripts/stress-tests.sh [N]        N rounds (default 5); exit 0 only if every round passed
#
# Each round is a fresh pytest process on the same selection: every test marked `spark` or
# `browser`, every test that asks for the shared Spark session without the marker, and
# the DDP and process tests (tests/nn/test_distributed*.py, tests/tune/test_durable.py,
# tests/test_processes.py, tests/runs/test_mlflow_kill.py: real processes killed, interrupted
# or orphaned). The burners are killed on exit, Ctrl-C or SIGTERM.
# Knobs (environment): STRESS_BURNERS (default: the number of cores), STRESS_WORKERS
# (pytest-xdist workers, default 2 as in `make test`), STRESS_ROUND_TIMEOUT (seconds a
# round may take before it counts as failed, default 1800).
set -uo pipefail

rounds="${1:-5}"
if ! [[ "$rounds" =~ ^[1-9][0-9]*$ ]]; then
  echo "stress-tests: N must be a positive whole number of rounds, got '$rounds' (e.g. scripts/stress-tests.sh 5)" >&2
  exit 2
fi
burner_count="${STRESS_BURNERS:-$(nproc)}"
workers="${STRESS_WORKERS:-2}"
round_timeout="${STRESS_ROUND_TIMEOUT:-1800}"

cd "$(dirname "$0")/.." || exit 2
PY=.venv/bin/python

burners=()
pytest_pid=""
stop_everything() {
  # only the processes this script started, by their ids
  if [ -n "$pytest_pid" ]; then
    kill -TERM -- "-$pytest_pid" 2>/dev/null || kill -TERM "$pytest_pid" 2>/dev/null
  fi
  for pid in "${burners[@]}"; do
    kill -KILL "$pid" 2>/dev/null
  done
  for pid in "${burners[@]}"; do
    wait "$pid" 2>/dev/null
  done
  burners=()
}
trap stop_everything EXIT
trap 'echo "stress-tests: interrupted" >&2; exit 130' INT
trap 'echo "stress-tests: terminated" >&2; exit 143' TERM

# the same environment as `make test`: .venv created or reused, headless Chromium installed
make venv || { echo "stress-tests: 'make venv' failed; see its output above" >&2; exit 2; }
bash scripts/install-browser.sh

logs="$(mktemp -d "${TMPDIR:-/tmp}/mlstrat-stress.XXXXXX")"
selection="$logs/selection.txt"

# Select by marker and by fixture, so a Spark test that lacks the marker is still exercised.
"$PY" - "$selection" <<'EOF' >"$logs/collect.log" 2>&1
import sys

import pytest

SPARK_FIXTURES = {"spark", "spark_session", "spark_connect"}
# DDP, the tests that kill, interrupt or orphan real processes (train --nproc and --resume,
# tune, runs export, a run folder's publication), and the driver-memory tests (a child's peak
# memory read by a wrapper): the ones that depend most on scheduling and on other processes
PROCESS_FILES = ("tests/nn/test_distributed.py", "tests/nn/test_distributed_signals.py",
                 "tests/nn/test_resume.py", "tests/tune/test_durable.py", "tests/test_processes.py",
                 "tests/runs/test_mlflow_kill.py", "tests/safety/test_run_dir.py",
                 "tests/cli/test_driver_memory.py", "tests/nn/test_predict_stream.py",
                 "tests/mismatch/test_synth_bounded.py", "tests/mismatch/test_sample.py")


class Select:
    def __init__(self):
        self.ids = []

    def pytest_collection_modifyitems(self, items):
        for item in items:
            marked = "spark" in item.keywords or "browser" in item.keywords
            uses_spark = bool(SPARK_FIXTURES & set(getattr(item, "fixturenames", ())))
            if marked or uses_spark or item.nodeid.startswith(PROCESS_FILES):
                self.ids.append(item.nodeid)


select = Select()
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "tests"], plugins=[select])
with open(sys.argv[1], "w", encoding="utf-8") as out:
    out.write("\n".join(select.ids) + "\n")
sys.exit(0 if code == 0 and select.ids else 1)
EOF
if [ $? -ne 0 ]; then
  echo "stress-tests: collecting the tests failed; see $logs/collect.log" >&2
  tail -n 20 "$logs/collect.log" >&2
  exit 2
fi
mapfile -t tests <"$selection"
echo "stress-tests: ${#tests[@]} tests (spark, browser, DDP), $rounds round(s), $burner_count CPU burner(s), logs in $logs"

for _ in $(seq "$burner_count"); do
  "$PY" -c 'while True: pass' &
  burners+=("$!")
done

passed=0
for round in $(seq "$rounds"); do
  log="$logs/round-$round.log"
  start=$SECONDS
  # setsid: the round is its own process group, so stopping it stops its workers too
  setsid timeout --kill-after=30 "$round_timeout" \
    "$PY" -m pytest -q -p no:cacheprovider -n "$workers" --dist loadgroup "${tests[@]}" >"$log" 2>&1 &
  pytest_pid=$!
  wait "$pytest_pid"
  rc=$?
  pytest_pid=""
  took=$((SECONDS - start))
  summary="$(grep -E '(passed|failed|error|no tests ran)' "$log" | tail -n 1)"
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    echo "round $round/$rounds: passed in ${took} s (${summary:-no summary})"
  else
    [ "$rc" -eq 124 ] && summary="stopped after ${round_timeout} s (STRESS_ROUND_TIMEOUT)"
    echo "round $round/$rounds: FAILED in ${took} s, exit $rc (${summary:-no summary}); log: $log"
    grep -E '^(FAILED|ERROR) ' "$log" | head -n 20
  fi
done

echo "$passed/$rounds rounds passed"
[ "$passed" -eq "$rounds" ]
