"""Benchmark: table commands on a CSV with one 20 MB field (a long document in a text column).

Usage:

    python benchmarks/long_field_bench.py run --megabytes 20 --repeats 3 [--before REV]
    python benchmarks/long_field_bench.py clean

The file is a small predictions table (and a manifest for `split`) whose first row holds a
field of ``--megabytes`` million characters, past DuckDB's 2 MB default line limit. Each
command runs as a fresh process under ``/usr/bin/time`` (benchmarks/_harness.py), the tools
interleaved; ``--before REV`` runs the code of that git revision as a peer (``src/`` exported
to a temporary folder), so the figures of both come from the same machine and load.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import DATA, PY, ROOT, clean, interleave, machine, markdown_table, summarize
from wide_csv_bench import export_source

COMMANDS = {
    "metrics": ["metrics", "{p}", "--json"],
    "diagnose": ["diagnose", "{p}", "--no-record", "--json"],
    "errors sample": ["errors", "sample", "{p}", "-o", "{d}/sheet.csv", "--force", "--json"],
    "split": ["split", "{m}", "-o", "{d}/split.parquet", "--force", "--json"],
}


def generate(megabytes: int) -> tuple[Path, Path]:
    """(predictions, manifest), each with one field of ``megabytes`` million characters."""
    DATA.mkdir(parents=True, exist_ok=True)
    preds, manifest = DATA / f"long_field_{megabytes}mb.csv", DATA / f"long_field_{megabytes}mb_manifest.csv"
    text = "x" * (megabytes * 1_000_000)
    if not preds.exists():
        rows = "".join(f"{i},{('train', 'dev')[i % 2]},a,{'ab'[i % 3 == 0]},short\n" for i in range(2, 200))
        preds.write_text(f"id,split,y_true,y_pred,text\n1,dev,a,b,{text}\n{rows}")
    if not manifest.exists():
        rows = "".join(f"{i},{'ab'[i % 2]},short\n" for i in range(2, 200))
        manifest.write_text(f"id,label,text\n1,a,{text}\n{rows}")
    return preds, manifest


def run(megabytes: int, repeats: int, before: str | None) -> None:
    preds, manifest = generate(megabytes)
    results = {"machine": machine(), "megabytes": megabytes, "repeats": repeats, "before": before,
               "commands": {}}
    with tempfile.TemporaryDirectory() as tmp:
        sources = {"after": ROOT / "src"}
        if before:
            sources["before"] = export_source(before, Path(tmp))
        for label, template in COMMANDS.items():
            args = [a.format(p=preds, m=manifest, d=tmp) for a in template]
            runs: dict[str, list[dict]] = {name: [] for name in sources}
            for _ in range(repeats):  # one tool per call so each gets its own PYTHONPATH, interleaved
                for name, src in sources.items():
                    runs[name] += interleave({name: lambda a=args: [PY, "-m", "mlstrat", *a]}, 1,
                                             env={"PYTHONPATH": str(src)})[name]
            summary = summarize(runs)
            results["commands"][label] = summary
            print(markdown_table(summary, label=f"{label}, one {megabytes} MB field"), flush=True)
    out = DATA / "long_field_results.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--megabytes", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--before", help="git revision of the code before the change")
    sub.add_parser("clean")
    args = parser.parse_args()
    if args.command == "run":
        run(args.megabytes, args.repeats, args.before)
    else:
        clean("long_field_*")


if __name__ == "__main__":
    main()
