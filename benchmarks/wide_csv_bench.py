"""Benchmark: `mlstrat metrics` on a wide CSV (2 000 and 20 000 columns), before and after
reading only the needed columns.

Usage:

    python benchmarks/wide_csv_bench.py generate --columns 2000 20000 --rows 10000
    python benchmarks/wide_csv_bench.py run --columns 2000 20000 --rows 10000 --repeats 3 \
        --before REV [--before-columns 2000]
    python benchmarks/wide_csv_bench.py clean

The table has ``id, split, y_true, y_pred`` and integer features 0-255 (pixels, say); the
command uses the first four. ``--before REV`` exports ``src/`` of that git revision (the code
before the change) to a temporary folder and runs its `mlstrat metrics` as a peer; the floor
is pyarrow's CSV reader cutting every line and keeping the four columns, which the command
cannot go under. Every tool runs as a fresh process, interleaved, under ``/usr/bin/time``
(benchmarks/_harness.py); the script checks that before and after print the same JSON.
``--before-columns`` limits the old code to the widths listed (it takes minutes per run on
the widest file).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import DATA, PY, ROOT, interleave, machine, markdown_table, summarize

FLOOR = """
import sys, pyarrow as pa, pyarrow.csv as pcsv
path = sys.argv[1]
with open(path) as fh:
    names = fh.readline().rstrip("\\n").split(",")
need = ["id", "split", "y_true", "y_pred"]
table = pcsv.read_csv(path, read_options=pcsv.ReadOptions(column_names=names, skip_rows=1),
                      convert_options=pcsv.ConvertOptions(include_columns=need,
                                                          column_types=dict.fromkeys(need, pa.string())))
print(table.num_rows)
"""


def data_path(columns: int, rows: int) -> Path:
    return DATA / f"wide_{columns}x{rows}.csv"


def generate(columns: int, rows: int) -> Path:
    """A predictions table with ``columns - 4`` integer features, written by pyarrow (seeded)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    out = data_path(columns, rows)
    if out.exists():
        return out
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, rows)
    data = {
        "id": pa.array([f"{i:06d}" for i in range(rows)]),
        "split": np.array(["train", "train_dev", "dev", "test"])[rng.integers(0, 4, rows)],
        "y_true": y_true,
        "y_pred": np.where(rng.random(rows) < 0.8, y_true, rng.integers(0, 3, rows)),
    }
    for j in range(columns - 4):
        data[f"f{j}"] = rng.integers(0, 256, rows, dtype=np.uint8)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write((",".join(data) + "\n").encode())
        pcsv.write_csv(pa.table(data), fh, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    tmp.rename(out)
    return out


def export_source(rev: str, into: Path) -> Path:
    """``src/`` of git revision ``rev`` under ``into`` (the code before the change)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], check=True,
                             capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def run(columns: list[int], rows: int, repeats: int, before: str | None,
        before_columns: list[int] | None) -> None:
    results = {"machine": machine(), "rows": rows, "repeats": repeats, "before": before, "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        old_src = export_source(before, Path(tmp)) if before else None
        for width in columns:
            path = str(generate(width, rows))
            tools = {"after": (lambda p=path: [PY, "-m", "mlstrat", "metrics", p, "--json"], ROOT / "src")}
            if old_src is not None and (before_columns is None or width in before_columns):
                tools["before"] = (lambda p=path: [PY, "-m", "mlstrat", "metrics", p, "--json"], old_src)
            tools["floor (pyarrow, 4 columns)"] = (lambda p=path: [PY, "-c", FLOOR, p], ROOT / "src")
            outputs: dict[str, str] = {}

            def check(name: str, stdout: str) -> None:
                if name in ("after", "before"):
                    outputs.setdefault(name, stdout)
                    if "before" in outputs and outputs["before"] != outputs["after"]:
                        raise SystemExit(f"{width} columns: before and after print different metrics")

            runs = {name: [] for name in tools}
            for _ in range(repeats):  # one tool per call so each gets its own PYTHONPATH, interleaved
                for name, (cmd, src) in tools.items():
                    runs[name] += interleave({name: cmd}, 1, env={"PYTHONPATH": str(src)}, check=check)[name]
            summary = summarize(runs, floor="floor (pyarrow, 4 columns)")
            results["sizes"][width] = summary
            print(markdown_table(summary, label=f"{width} columns x {rows} rows"), flush=True)
    out = DATA / "wide_csv_results.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("generate", "run"):
        p = sub.add_parser(name)
        p.add_argument("--columns", type=int, nargs="+", default=[2000, 20000])
        p.add_argument("--rows", type=int, default=10000)
        if name == "run":
            p.add_argument("--repeats", type=int, default=3)
            p.add_argument("--before", help="git revision of the code before the change")
            p.add_argument("--before-columns", type=int, nargs="+")
    sub.add_parser("clean")
    args = parser.parse_args()
    if args.command == "generate":
        for width in args.columns:
            print(generate(width, args.rows))
    elif args.command == "run":
        run(args.columns, args.rows, args.repeats, args.before, args.before_columns)
    else:
        for path in DATA.glob("wide_*"):
            path.unlink()


if __name__ == "__main__":
    main()
