"""Start-up of the table commands on a 10-row file, and what their imports cost.

    python benchmarks/startup_bench.py [--repeats 15] [--baseline main]

Each command runs as a fresh process (``python -m mlstrat ...``), interleaved with the others
and, with ``--baseline REF``, with the same command run from the sources of git revision REF
(exported to a temporary folder), ``--repeats`` rounds: wall and CPU time of the whole command
(interpreter start, imports, reading the 10-row file, computing, printing).

Bytecode: the runs see what an installed package sees. ``PYTHONDONTWRITEBYTECODE`` is removed
from their environment and every command runs once, untimed, before the rounds, so each
source tree has its ``.pyc`` files (site-packages has its own from installation); without
them every run would recompile mlstrat's sources, about a tenth of a second.

Two floors run in the same rounds: importing Ibis with its DuckDB backend, and importing
DuckDB + PyArrow and running one query, what the required stack costs before mlstrat reads
anything.

Then each command runs once more under ``python -X importtime`` and the script lists the
top-level packages by the import time spent in their own modules, so a regression names its
culprit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import PY, ROOT, interleave, machine, summarize  # noqa: E402

PREDICTIONS = "id,split,y_true,y_pred\n" + "".join(
    f"{i},{s},{t},{p}\n" for i, (s, t, p) in enumerate([
        ("train", "a", "a"), ("train", "a", "b"), ("train", "b", "b"), ("train_dev", "b", "b"),
        ("train_dev", "a", "a"), ("dev", "a", "b"), ("dev", "b", "b"), ("dev", "a", "a"),
        ("test", "b", "b"), ("test", "a", "a")]))
MANIFEST = "id,label\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(10))
#: seconds: the goals of the start-up work (bare figures need no engine at all)
GOALS = {"diagnose --errors": 0.25, "metrics PRED": 0.5, "diagnose PRED --no-record": 0.5,
         "split MANIFEST": 0.5}
#: what the required stack costs before mlstrat does anything: the floor under a table command
FLOORS = {
    "floor: import ibis + its DuckDB backend": "import ibis, ibis.backends.duckdb",
    "floor: import duckdb + pyarrow, one query": "import duckdb, pyarrow; duckdb.sql('select 1').arrow()",
}


def commands(work: Path) -> dict[str, list[str]]:
    pred, manifest = work / "pred.csv", work / "manifest.csv"
    pred.write_text(PREDICTIONS)
    manifest.write_text(MANIFEST)
    return {
        "diagnose --errors": ["diagnose", "--errors", "train=1%,dev=10%", "--human", "0.5%"],
        "metrics PRED": ["metrics", str(pred)],
        "diagnose PRED --no-record": ["diagnose", str(pred), "--no-record"],
        "split MANIFEST": ["split", str(manifest), "-o", str(work / "out.csv"), "--force",
                           "--dev-size", "2", "--test-size", "2", "--train-dev", "none"],
    }


def mlstrat(src: Path, args: list[str], *python_flags: str) -> list[str]:
    """``python -m mlstrat ARGS`` on the sources under ``src``, with .pyc files written."""
    return ["env", "-u", "PYTHONDONTWRITEBYTECODE", f"PYTHONPATH={src}", PY, *python_flags,
            "-m", "mlstrat", *args]


def export_sources(ref: str, dest: Path) -> Path:
    """The ``src`` folder of git revision ``ref``, written under ``dest``."""
    archive = subprocess.run(["git", "archive", ref, "src"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def import_profile(cmd: list[str], top: int = 8) -> list[tuple[str, float]]:
    """Import time (ms) per top-level package, from ``-X importtime``: the sum of the self
    times of its modules, so time spent importing typer from mlstrat.cli counts for typer."""
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    spent: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, _, name = line[len("import time:"):].split("|")
        if not own.strip().isdigit():
            continue  # the header
        package = name.strip().split(".")[0]
        spent[package] = spent.get(package, 0.0) + int(own) / 1000
    return sorted(spent.items(), key=lambda kv: -kv[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--baseline", default=None, help="git revision to compare with (e.g. main)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources = {"now": ROOT / "src"}
        if args.baseline:
            (work / "baseline").mkdir()
            sources = {args.baseline: export_sources(args.baseline, work / "baseline"), **sources}
        cmds = {f"{name} [{label}]": mlstrat(src, c)
                for name, c in commands(work).items() for label, src in sources.items()}
        cmds.update({name: [PY, "-c", code] for name, code in FLOORS.items()})
        env = {"MLSTRAT_STORE": str(work / "runs.db")}
        before = machine()  # the load as the rounds start
        interleave({n: (lambda c=c: c) for n, c in cmds.items()}, 1, env=env)  # writes the .pyc files
        runs = interleave({n: (lambda c=c: c) for n, c in cmds.items()}, args.repeats, env=env)
        summary = {"machine": before, "load_avg_at_end": os.getloadavg(), "repeats": args.repeats,
                   "bytecode": ".pyc present (warm-up run)",
                   "tools": summarize(runs),
                   "imports_ms": {n: import_profile(c[:5] + ["-X", "importtime"] + c[5:])
                                  for n, c in cmds.items() if n not in FLOORS}}
    print(json.dumps(summary, indent=2))
    print("| command | wall s, median (min–max) | CPU s, median | goal | top imports (ms) |")
    print("|---|---|---|---|---|")
    for name, row in summary["tools"].items():
        w = row["wall_s"]
        if name in FLOORS:
            print(f"| {name} | {w['median']:.2f} ({w['min']:.2f}–{w['max']:.2f}) | "
                  f"{row['cpu_s']['median']:.2f} | — | `{FLOORS[name]}` |")
            continue
        goal = GOALS[name.rsplit(" [", 1)[0]]
        imports = ", ".join(f"{m} {ms:.0f}" for m, ms in summary["imports_ms"][name][:5])
        print(f"| `mlstrat {name}` | {w['median']:.2f} ({w['min']:.2f}–{w['max']:.2f}) | "
              f"{row['cpu_s']['median']:.2f} | < {goal} s: {'yes' if w['median'] < goal else 'no'} | {imports} |")


if __name__ == "__main__":
    main()
