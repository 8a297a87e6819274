"""Label-issue finding: mlstrat's confident learning vs cleanlab's ``find_label_issues``.

Two modes.

``--grid`` (how the default selection rule was chosen): datasets that ship inside installed
packages (scikit-learn's iris, wine, breast_cancer, digits; statsmodels' fair and anes96) x
noise types (uniform flips of 5, 10, 20% of the rows to another class; asymmetric: 30% of the
largest class flipped into the next class) x seeds. Out-of-fold probabilities of
StandardScaler + LogisticRegression (5 stratified folds). F1 of finding the flipped rows, for
each mlstrat method through the public API and for cleanlab's defaults::

    PYTHONPATH=src .venv/bin/python benchmarks/labels_bench.py --grid --seeds 0-2

``--timing`` (default, the earlier benchmark): scenario: scikit-learn's digits (1 797 images, shipped with scikit-learn) with 10% of the
labels flipped at random to another class (seeded). Out-of-fold probabilities come from a
logistic regression (5 stratified folds), as confident learning requires. Both tools get the
same labels and probabilities; we measure precision, recall and F1 of finding the flipped
rows, and the wall time of the call (median of several repeats, after one warm-up).

cleanlab is AGPL and never a dependency of mlstrat: it runs in a separate virtualenv, in a
subprocess. Create it once with::

    python3 -m venv /tmp/clvenv && /tmp/clvenv/bin/pip install cleanlab scikit-learn

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/labels_bench.py --seeds 0-9 [--cleanlab-python PATH]

Without that interpreter the cleanlab column is skipped with a message.

``--table ROWS`` (the table benchmark): ``mlstrat labels PRED --split dev --json`` on a
synthetic predictions table of ROWS dev rows (10 classes, 10% of the labels flipped; written
once by ``labels_scale_bench.write_table`` under ``benchmarks/data/``), interleaved in one run
with the peers of ``benchmarks/_labels_peers.py``: the lean pandas + NumPy version of the same
rule, Polars, the bare-DuckDB floor (read the split + the one group by label) and, when the
throwaway venv has cleanlab and pyarrow, cleanlab's ``find_label_issues`` on the arrays (its
own default rule, so its suspects are not compared). Each run is a fresh process under
``/usr/bin/time`` (wall, CPU, peak RSS; benchmarks/_harness.py); numpy and Polars must return
exactly mlstrat's suspects::

    flock /tmp/mlstrat-bench.lock python benchmarks/labels_bench.py --table 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

NOISE = 0.10
FOLDS = 5
REPEATS = 7

CLEANLAB_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from cleanlab.filter import find_label_issues
    data = np.load(sys.argv[1])
    labels, probs, repeats = data["labels"], data["probs"], int(sys.argv[2])
    n_jobs = None if sys.argv[3] == "default" else int(sys.argv[3])
    kw = {"n_jobs": n_jobs, "filter_by": sys.argv[4]}
    find_label_issues(labels, probs, **kw)  # warm-up (imports, pools)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        mask = find_label_issues(labels, probs, **kw)
        times.append(time.perf_counter() - t0)
    import cleanlab
    print(json.dumps({"mask": np.flatnonzero(mask).tolist(), "times": times, "version": cleanlab.__version__}))
""")


def make_case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(noisy labels, out-of-fold probabilities, flipped mask) for one seed."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    n, k = len(y), 10
    flipped = np.zeros(n, dtype=bool)
    flipped[rng.choice(n, size=int(round(NOISE * n)), replace=False)] = True
    noisy = y.copy()
    # a different class chosen uniformly: random (not systematic) noise
    noisy[flipped] = (y[flipped] + rng.integers(1, k, size=flipped.sum())) % k
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    probs = cross_val_predict(model, X, noisy, cv=cv, method="predict_proba")
    return noisy, probs, flipped


def scores(found: np.ndarray, flipped: np.ndarray) -> dict[str, float]:
    tp = int((found & flipped).sum())
    p = tp / found.sum() if found.sum() else 0.0
    r = tp / flipped.sum()
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "found": int(found.sum())}


def run_mlstrat(
    labels: np.ndarray, probs: np.ndarray, ids: list[str], method: str = "rank"
) -> tuple[np.ndarray, float, float]:
    """(mask, median core time, median public-API time)."""
    import pyarrow as pa

    from mlstrat.errors import find_label_issues
    from mlstrat.errors._confident import confident_learning

    confident_learning(labels, probs, method=method)  # warm-up
    core = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = confident_learning(labels, probs, method=method)
        core.append(time.perf_counter() - t0)
    table = pa.table(
        {
            "id": ids,
            "split": ["dev"] * len(ids),
            "y_true": labels,
            "y_pred": probs.argmax(1),
            **{f"proba_{j}": probs[:, j] for j in range(probs.shape[1])},
        }
    )
    find_label_issues(table, method=method)
    api = []
    for _ in range(3):
        t0 = time.perf_counter()
        issues = find_label_issues(table, method=method)
        api.append(time.perf_counter() - t0)
    found_api = np.isin(ids, [i.id for i in issues.issues])
    if not np.array_equal(found_api, result.mask):
        raise SystemExit("public API and core disagree")
    return result.mask, statistics.median(core), statistics.median(api)


def run_cleanlab(
    python: str,
    labels: np.ndarray,
    probs: np.ndarray,
    n_jobs: str,
    filter_by: str = "prune_by_noise_rate",
) -> tuple[np.ndarray, float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "case.npz")
        np.savez(path, labels=labels, probs=probs)
        out = subprocess.run(
            [python, "-c", CLEANLAB_SCRIPT, path, str(REPEATS), n_jobs, filter_by],
            capture_output=True,
            text=True,
            check=True,
        )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    mask = np.zeros(len(labels), dtype=bool)
    mask[data["mask"]] = True
    return mask, statistics.median(data["times"]), data["version"]


GRID_NOISES = ("uniform5", "uniform10", "uniform20", "asym30")
GRID_METHODS = ("auto", "rank", "prune_by_noise_rate")

CLEANLAB_GRID = textwrap.dedent("""
    import json, sys
    import numpy as np
    from cleanlab.filter import find_label_issues
    import cleanlab
    data = np.load(sys.argv[1])
    out = {"version": cleanlab.__version__, "masks": {}}
    for key in sorted({k.rsplit("|", 1)[0] for k in data.files}):
        mask = find_label_issues(data[key + "|labels"], data[key + "|probs"], n_jobs=1)  # defaults otherwise
        out["masks"][key] = np.flatnonzero(mask).tolist()
    print(json.dumps(out))
""")


def grid_datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(X, y) of the datasets bundled with installed packages (no download)."""
    import statsmodels.api as sm
    from sklearn import datasets

    out = {}
    for name in ("iris", "wine", "breast_cancer", "digits"):
        out[name] = getattr(datasets, f"load_{name}")(return_X_y=True)
    fair = sm.datasets.fair.load_pandas().data  # 6 366 women: any affair (binary), 8 features
    out["fair"] = (fair.drop(columns="affairs").to_numpy(float), (fair.affairs > 0).to_numpy(int))
    anes = sm.datasets.anes96.load_pandas().data  # 944 voters: Clinton vs Dole (binary), 10 features
    out["anes96"] = (anes.drop(columns="vote").to_numpy(float), anes.vote.to_numpy(int))
    return {k: (X, np.unique(y, return_inverse=True)[1]) for k, (X, y) in out.items()}


def corrupt(y: np.ndarray, noise: str, rng: np.random.Generator) -> np.ndarray:
    """Noisy labels: ``uniformP`` flips P% of rows to another class; ``asym30`` flips 30% of the
    largest class into the next class (class-conditional, systematic noise)."""
    k, n, noisy = int(y.max()) + 1, len(y), y.copy()
    if noise.startswith("uniform"):
        flip = np.zeros(n, dtype=bool)
        flip[rng.choice(n, int(round(int(noise[7:]) / 100 * n)), replace=False)] = True
        noisy[flip] = (y[flip] + rng.integers(1, k, flip.sum())) % k
        return noisy
    big = int(np.bincount(y).argmax())
    members = np.flatnonzero(y == big)
    noisy[rng.choice(members, int(round(0.3 * len(members))), replace=False)] = (big + 1) % k
    return noisy


def grid_case(X: np.ndarray, y: np.ndarray, noise: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    noisy = corrupt(y, noise, np.random.default_rng(seed))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    cv = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    probs = cross_val_predict(model, X, noisy, cv=cv, method="predict_proba")
    return noisy, probs, noisy != y


def run_grid(seeds: list[int], cleanlab_python: str | None, out_json: Path | None,
             cache: Path | None = None) -> None:
    import warnings

    import pyarrow as pa

    from mlstrat.errors import find_label_issues

    cases: dict[str, np.ndarray] = {}
    rows = []
    cached = dict(np.load(cache)) if cache is not None and cache.exists() else {}
    fresh: dict[str, np.ndarray] = {}
    for name, (X, y) in grid_datasets().items():
        for noise in GRID_NOISES:
            for seed in seeds:
                key = f"{name}|{noise}|{seed}"
                if key + "|probs" in cached:  # the out-of-fold fits are the slow part
                    labels, probs, flipped = (cached[key + s] for s in ("|labels", "|probs", "|flipped"))
                else:
                    labels, probs, flipped = grid_case(X, y, noise, seed)
                fresh.update({key + "|labels": labels, key + "|probs": probs, key + "|flipped": flipped})
                cases.update({key + "|labels": labels, key + "|probs": probs})
                _FLIPPED[key] = flipped
                ids = np.array([f"r{i:05d}" for i in range(len(labels))])
                table = pa.table({"id": ids, "split": ["dev"] * len(ids), "y_true": labels,
                                  "y_pred": probs.argmax(1),
                                  **{f"proba_{j}": probs[:, j] for j in range(probs.shape[1])}})
                row = {"dataset": name, "noise": noise, "seed": seed, "n": len(labels),
                       "flipped": int(flipped.sum()), "accuracy": float((probs.argmax(1) == labels).mean())}
                for method in GRID_METHODS:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        res = find_label_issues(table, method=method)
                    row[method] = scores(np.isin(ids, [i.id for i in res.issues]), flipped)["f1"]
                    if method == "auto":
                        row["auto_chose"] = res.method
                rows.append(row)
                print(f"{key:28} " + " ".join(f"{m} {row[m]:.3f}" for m in GRID_METHODS), flush=True)
    version = None
    if cleanlab_python:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "cases.npz")
            np.savez(path, **cases)
            out = subprocess.run([cleanlab_python, "-c", CLEANLAB_GRID, path], capture_output=True, text=True,
                                 check=True)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        version = data["version"]
        for row in rows:
            key = f"{row['dataset']}|{row['noise']}|{row['seed']}"
            mask = np.zeros(row["n"], dtype=bool)
            mask[data["masks"][key]] = True
            row["cleanlab"] = scores(mask, _FLIPPED[key])["f1"]
    print_grid(rows, version)
    if cache is not None and not cached:
        np.savez(cache, **fresh)
    if out_json:
        out_json.write_text(json.dumps(rows, indent=2))


_FLIPPED: dict[str, np.ndarray] = {}  # case -> which rows were flipped (kept out of the npz for cleanlab)


def print_grid(rows: list[dict], version: str | None) -> None:
    """A Markdown table: mean F1 per (dataset, noise) over seeds, then the overall mean."""
    tools = [*GRID_METHODS] + (["cleanlab"] if "cleanlab" in rows[0] else [])
    print(f"\ncleanlab {version}" if version else "")
    print("| dataset | noise | n | accuracy | " + " | ".join(f"F1 {t}" for t in tools) + " | auto chose |")
    print("|---|---|---:|---:|" + "---:|" * len(tools) + "---|")
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["noise"]), []).append(r)
    worse = []
    for (name, noise), rs in groups.items():
        means = {t: statistics.mean(r[t] for r in rs) for t in tools}
        chose = sorted({r["auto_chose"] for r in rs})
        print(f"| {name} | {noise} | {rs[0]['n']} | {statistics.mean(r['accuracy'] for r in rs):.2f} | "
              + " | ".join(f"{means[t]:.3f}" for t in tools) + f" | {', '.join(chose)} |")
        if "cleanlab" in means and means["auto"] < means["cleanlab"] - 1e-12:
            worse.append(f"{name}/{noise} ({means['auto']:.3f} < {means['cleanlab']:.3f})")
    print("| **mean** | | | | " + " | ".join(f"**{statistics.mean(r[t] for r in rows):.3f}**" for t in tools)
          + " | |")
    if "cleanlab" in tools:
        print(f"\nauto below cleanlab in {len(worse)} of {len(groups)} cases: {'; '.join(worse) or 'none'}")


def parse_seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


CLEANLAB_TABLE = textwrap.dedent("""
    import json, sys
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from cleanlab.filter import find_label_issues
    names = [c for c in pq.read_schema(sys.argv[1]).names if c.startswith("proba_")]
    t = pq.read_table(sys.argv[1], columns=["id", "split", "y_true", *names], filters=[("split", "==", "dev")])
    classes = {c[len("proba_"):]: j for j, c in enumerate(names)}
    labels = np.array([classes[str(v)] for v in t["y_true"].to_pylist()])
    probs = np.column_stack([t[c].to_numpy() for c in names])
    mask = find_label_issues(labels, probs)
    print(json.dumps({"n_issues": int(mask.sum()), "flagged": t["id"].filter(pa.array(mask)).to_pylist()}))
""")


def scores_of(found: set[str], flipped: set[str]) -> float:
    """F1 of finding the flipped rows."""
    hits = len(found & flipped)
    return round(2 * hits / (len(found) + len(flipped)), 4) if found or flipped else 1.0


def run_table(rows: int, repeats: int, cleanlab_python: str | None, before: str | None = None) -> dict:
    """mlstrat labels vs the lean NumPy, Polars and DuckDB-floor peers (and cleanlab) on a table."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _harness import DATA, HERE, PY, SRC_ENV, interleave, machine, markdown_table, measure, summarize
    from labels_scale_bench import flipped_ids, write_table

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"labels_{rows}.parquet"
    if not path.exists():
        tmp = path.with_suffix(".tmp.parquet")
        write_table(tmp, rows)
        tmp.rename(path)
    peer = HERE / "_labels_peers.py"
    reference = sorted(json.loads(measure([PY, str(peer), "numpy", str(path)])["stdout"])["issues"])

    flipped = flipped_ids(rows)
    f1: dict[str, float] = {}

    def check(tool: str, stdout: str) -> None:
        doc = json.loads(stdout)
        if "flagged" in doc:  # cleanlab: its own rule, scored by F1 only
            f1[tool] = scores_of(set(doc["flagged"]), flipped)
        if "issues" not in doc:
            return  # the floor: no suspects
        ids = sorted(i["id"] if isinstance(i, dict) else i for i in doc["issues"])
        f1[tool] = scores_of(set(ids), flipped)
        if ids != reference:
            raise SystemExit(f"{tool} disagrees: {len(ids)} suspects vs {len(reference)}")

    tools = {"mlstrat": lambda: [PY, "-m", "mlstrat", "labels", str(path), "--split", "dev", "--json"],
             "numpy_lean": lambda: [PY, str(peer), "numpy", str(path)],
             "polars": lambda: [PY, str(peer), "polars", str(path)],
             "duckdb_floor": lambda: [PY, str(peer), "duckdb", str(path)]}
    if before:  # another source tree (e.g. the previous version), same command
        tools["mlstrat_before"] = lambda: ["env", f"PYTHONPATH={before}", *tools["mlstrat"]()]
    if cleanlab_python:
        script = Path(tempfile.mkdtemp()) / "cleanlab_table.py"
        script.write_text(CLEANLAB_TABLE)
        tools["cleanlab"] = lambda: [cleanlab_python, str(script), str(path)]
    runs = interleave(tools, repeats, env=SRC_ENV, check=check)
    summary = {"rows": rows, "suspects": len(reference), "file_mb": round(path.stat().st_size / 1e6, 1),
               "flipped": len(flipped), "f1": f1, "repeats": repeats, "machine": machine(), "tools": summarize(runs, floor="duckdb_floor")}
    print(json.dumps(summary, indent=2))
    print(markdown_table(summary["tools"], label=f"{rows:,} rows"))
    (DATA / f"labels_results_{rows}.json").write_text(json.dumps(summary, indent=2))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-9", help="seeds: 0-9 or 0,3,7")
    parser.add_argument("--cleanlab-python", default="/tmp/clvenv/bin/python")
    parser.add_argument(
        "--method",
        default="auto",
        choices=["auto", "rank", "prune_by_noise_rate"],
        help="mlstrat's selection method",
    )
    parser.add_argument("--no-cleanlab", action="store_true", help="run mlstrat only")
    parser.add_argument("--json", type=Path, help="also write the per-seed figures here")
    parser.add_argument("--grid", action="store_true", help="datasets x noise types (the default rule's benchmark)")
    parser.add_argument("--cache", type=Path, help="--grid: .npz of the generated cases (labels, out-of-fold "
                        "probabilities, flipped rows); written when absent, read when present")
    parser.add_argument("--table", type=int, metavar="ROWS",
                        help="the table benchmark on ROWS dev rows (module docstring)")
    parser.add_argument("--repeats", type=int, default=3, help="--table: interleaved rounds")
    parser.add_argument("--before", metavar="SRC", help="--table: also run another source tree's mlstrat")
    args = parser.parse_args()
    if args.table:
        python = args.cleanlab_python if Path(args.cleanlab_python).exists() and not args.no_cleanlab else None
        run_table(args.table, args.repeats, python, args.before)
        return
    if args.grid:
        python = args.cleanlab_python if Path(args.cleanlab_python).exists() and not args.no_cleanlab else None
        if python is None:
            print(f"cleanlab skipped: {args.cleanlab_python} not found", file=sys.stderr)
        run_grid(parse_seeds(args.seeds), python, args.json, args.cache)
        return
    have_cleanlab = Path(args.cleanlab_python).exists() and not args.no_cleanlab
    if not have_cleanlab and not args.no_cleanlab:
        print(
            f"cleanlab skipped: {args.cleanlab_python} not found (see this script's docstring)",
            file=sys.stderr,
        )

    rows = []
    header = f"{'seed':>4} | {'mlstrat P/R/F1':>20} {'core ms':>8} {'API ms':>7}"
    if have_cleanlab:
        header += f" | {'cleanlab P/R/F1':>20} {'ms':>7} {'ms n_jobs=1':>11} | {'cl low_self_conf F1':>19}"
    print(header)
    version = None
    for seed in parse_seeds(args.seeds):
        labels, probs, flipped = make_case(seed)
        ids = [f"digit-{i:04d}" for i in range(len(labels))]
        mask, t_core, t_api = run_mlstrat(labels, probs, ids, args.method)
        row = {
            "seed": seed,
            "flipped": int(flipped.sum()),
            "mlstrat": {**scores(mask, flipped), "time_s": t_core, "api_time_s": t_api},
        }
        line = (
            f"{seed:>4} | {row['mlstrat']['precision']:.3f}/{row['mlstrat']['recall']:.3f}/"
            f"{row['mlstrat']['f1']:.3f} {1000 * t_core:8.2f} {1000 * t_api:7.1f}"
        )
        if have_cleanlab:
            cmask, t_cl, version = run_cleanlab(args.cleanlab_python, labels, probs, "default")
            _, t_cl1, _ = run_cleanlab(args.cleanlab_python, labels, probs, "1")
            lmask, t_low, _ = run_cleanlab(
                args.cleanlab_python, labels, probs, "1", "low_self_confidence"
            )
            row["cleanlab"] = {**scores(cmask, flipped), "time_s": t_cl, "time_n_jobs1_s": t_cl1}
            row["cleanlab_low_self_confidence"] = {
                **scores(lmask, flipped),
                "time_n_jobs1_s": t_low,
            }
            row["agreement"] = float((cmask == mask).mean())
            line += (
                f" | {row['cleanlab']['precision']:.3f}/{row['cleanlab']['recall']:.3f}/"
                f"{row['cleanlab']['f1']:.3f} {1000 * t_cl:7.2f} {1000 * t_cl1:11.2f} | "
                f"{row['cleanlab_low_self_confidence']['f1']:19.3f}"
            )
        print(line, flush=True)
        rows.append(row)

    def mean(tool: str, key: str) -> float:
        return statistics.mean(r[tool][key] for r in rows)

    print(f"mlstrat method: {args.method}")
    print(
        f"mean mlstrat  F1 {mean('mlstrat', 'f1'):.4f}  P {mean('mlstrat', 'precision'):.4f}  "
        f"R {mean('mlstrat', 'recall'):.4f}  core {1000 * mean('mlstrat', 'time_s'):.2f} ms  "
        f"API {1000 * mean('mlstrat', 'api_time_s'):.1f} ms"
    )
    if have_cleanlab:
        print(
            f"mean cleanlab F1 {mean('cleanlab', 'f1'):.4f}  P {mean('cleanlab', 'precision'):.4f}  "
            f"R {mean('cleanlab', 'recall'):.4f}  {1000 * mean('cleanlab', 'time_s'):.2f} ms "
            f"(n_jobs=1: {1000 * mean('cleanlab', 'time_n_jobs1_s'):.2f} ms)  version {version}"
        )
        print(
            f"mean cleanlab filter_by=low_self_confidence F1 "
            f"{mean('cleanlab_low_self_confidence', 'f1'):.4f} "
            f"({1000 * mean('cleanlab_low_self_confidence', 'time_n_jobs1_s'):.2f} ms, n_jobs=1)"
        )
        wins = sum(r["mlstrat"]["f1"] >= r["cleanlab"]["f1"] for r in rows)
        print(
            f"mlstrat F1 >= cleanlab F1 on {wins}/{len(rows)} seeds; mean agreement of the masks "
            f"{statistics.mean(r['agreement'] for r in rows):.4f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
