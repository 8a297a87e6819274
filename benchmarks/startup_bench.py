"""Start-up of the table commands on a 10-row file, and what their imports cost.

    python benchmarks/startup_bench.py [--repeats 15]

Each command runs as a fresh process, interleaved with the others, ``--repeats`` rounds
(wall time of the whole command: interpreter start, imports, reading the 10-row file,
computing, printing). Then each runs once more under ``python -X importtime`` and the script
lists the top-level packages by cumulative import time, so a regression names its culprit.
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
from _harness import PY, ROOT, SRC_ENV, interleave, machine, summarize  # noqa: E402

PREDICTIONS = "id,split,y_true,y_pred\n" + "".join(
    f"{i},{s},{t},{p}\n" for i, (s, t, p) in enumerate([
        ("train", "a", "a"), ("train", "a", "b"), ("train", "b", "b"), ("train_dev", "b", "b"),
        ("train_dev", "a", "a"), ("dev", "a", "b"), ("dev", "b", "b"), ("dev", "a", "a"),
        ("test", "b", "b"), ("test", "a", "a")]))
MANIFEST = "id,label\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(10))


def commands(work: Path) -> dict[str, list[str]]:
    pred, manifest = work / "pred.csv", work / "manifest.csv"
    pred.write_text(PREDICTIONS)
    manifest.write_text(MANIFEST)
    m = [PY, "-m", "mlstrat"]
    return {
        "diagnose --errors": m + ["diagnose", "--errors", "train=1%,dev=10%", "--human", "0.5%"],
        "metrics PRED": m + ["metrics", str(pred)],
        "diagnose PRED --no-record": m + ["diagnose", str(pred), "--no-record"],
        "split MANIFEST": m + ["split", str(manifest), "-o", str(work / "out.csv"), "--force",
                               "--dev-size", "2", "--test-size", "2", "--train-dev", "none"],
    }


def import_profile(cmd: list[str], top: int = 8) -> list[tuple[str, float]]:
    """Top-level packages by cumulative import time (ms), from ``-X importtime``."""
    proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **SRC_ENV})
    cumulative: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cum, name = (x.strip() for x in line[len("import time:"):].split("|"))
        if not cum.isdigit() or name.startswith(" "):
            continue
        if not name.startswith((" ",)) and "." not in name.strip():
            cumulative[name.strip()] = max(cumulative.get(name.strip(), 0.0), int(cum) / 1000)
    return sorted(cumulative.items(), key=lambda kv: -kv[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(Path(tmp))
        runs = interleave({name: (lambda c=c: c) for name, c in cmds.items()}, args.repeats,
                          env={**SRC_ENV, "MLSTRAT_STORE": str(Path(tmp) / "runs.db")})
        summary = {"machine": machine(), "repeats": args.repeats, "tools": summarize(runs),
                   "imports_ms": {name: import_profile(c) for name, c in cmds.items()}}
    print(json.dumps(summary, indent=2))
    print("| command | wall s, median (min–max) | top imports (cumulative ms) |")
    print("|---|---|---|")
    for name, row in summary["tools"].items():
        w = row["wall_s"]
        imports = ", ".join(f"{m} {ms:.0f}" for m, ms in summary["imports_ms"][name][:5])
        print(f"| `mlstrat {name}` | {w['median']:.2f} ({w['min']:.2f}–{w['max']:.2f}) | {imports} |")


if __name__ == "__main__":
    main()
