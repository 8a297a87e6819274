"""The CLI on malformed input: no traceback, no hang, exit 0/1 or exit 2 with one clear line.

Every reader and command family is driven in-process through Typer's CliRunner with generated
inputs: predictions tables (metrics, diagnose, labels, threshold, errors sample and slices),
manifests (split), candidates (select), sheets with their meta files (errors summarize, and the
tagging UI's API), TOML configs (train, gradcheck), run stores (runs list/show/compare, report)
and paths (missing, folders, outputs over inputs, odd names), and hostile tables (list-typed
columns, null and bytes labels, probabilities outside [0, 1] or written as text, decimal and
struct columns, odd characters in values and names, a field past DuckDB's line limit; UTF-16
and byte-order-marked text files). Tables stay small so the default run (``FUZZ_N`` = 1 050
inputs) takes a couple of minutes; ``MLSTRAT_FUZZ_N`` raises the total (the long run's figures
are in docs/guide/safety.md).

Outside CI every run draws fresh inputs from a new seed, printed at the start of the module and
in every failure; ``MLSTRAT_FUZZ_SEED=<seed>`` replays a run's inputs exactly. Under CI (the
``CI`` variable set, as Hypothesis's own CI profile does) the seed is fixed, so a CI run's verdict
depends on the code only; fresh seeds are the job of local runs and ``scripts/fuzz.sh``.
"""

from __future__ import annotations

import decimal
import io
import json
import os
import re
import secrets
import signal
import sqlite3
import warnings
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mlstrat.cli import app

FUZZ_N = int(os.environ.get("MLSTRAT_FUZZ_N", "1050"))
#: the seed CI uses: CI must pass or fail on the code alone, never on the draw
CI_SEED = 20261207


def _seed() -> int:
    """MLSTRAT_FUZZ_SEED when given, the fixed CI_SEED under CI, a fresh seed otherwise."""
    given_seed = os.environ.get("MLSTRAT_FUZZ_SEED")
    if given_seed:
        return int(given_seed)
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        return CI_SEED
    return secrets.randbelow(2**32)


#: printed, and named in every failure
SEED = _seed()
REPLAY = f"replay these inputs with MLSTRAT_FUZZ_SEED={SEED}"
# share of the inputs per family (sums to 1)
SHARES = {"predictions": 0.26, "manifests": 0.12, "candidates": 0.08, "sheets": 0.20, "ui": 0.10,
          "configs": 0.10, "stores": 0.08, "paths": 0.06}
HANG_SECONDS = 60
runner = CliRunner()
TALLY: Counter[str] = Counter()


def _settings(family: str, *, examples: int | None = None) -> settings:
    # no shrinking: a failure is reported as generated (shrinking wide inputs takes minutes);
    # the inputs come from SEED (the tests carry @seed(SEED)), not from a database of past runs
    count = examples if examples is not None else round(FUZZ_N * SHARES[family])
    return settings(max_examples=max(1, count), deadline=None, derandomize=False,
                    database=None, suppress_health_check=list(HealthCheck),
                    phases=(Phase.explicit, Phase.generate))


@pytest.fixture(scope="module", autouse=True)
def _print_seed(request):
    """The seed on the terminal, whatever pytest captures."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"fuzz seed {SEED}: {REPLAY}")


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"no answer within {HANG_SECONDS} s ({REPLAY})")


ERROR_LINE = re.compile(r"^Error: \S")


def run_cli(args: list[str], family: str) -> None:
    """Invoke the CLI and assert the contract: exit 0/1/2, never an exception, never a hang;
    exit 2 carries one ``Error:`` line (or Click's usage error)."""
    TALLY[family] += 1
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = runner.invoke(app, [str(a) for a in args])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    shown = f"mlstrat {' '.join(map(str, args))}\n{res.output[-3000:]}\n({REPLAY})"
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(res.exception))
        raise AssertionError(f"traceback from {shown}\n{tb}\n({REPLAY})")
    assert "Traceback" not in res.output, shown
    assert res.exit_code in (0, 1, 2), shown
    if res.exit_code == 2:
        lines = res.output.splitlines()
        errors = [line for line in lines if ERROR_LINE.match(line)]
        usage = any("Usage:" in line for line in lines) or "│" in res.output
        assert len(errors) == 1 or usage, shown


# ---- building blocks ------------------------------------------------------------------------------

CELLS = st.one_of(
    st.none(),
    st.sampled_from(["", "a", "b", "cat", "dog", "0", "1", "-1", "0.5", "1e999", "-inf", "nan", "NaN", "1e-300",
                     "train", "dev", "test", "train_dev", "TRAIN", "x" * 200, "[/]", "[bold]", "\x1b[31m",
                     "=1+2", "@SUM(A1)", "é", "猫", "\"", ",", "'", "\n", "\\"]),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)


def _cell_text(value) -> str:
    return "" if value is None else str(value)


@st.composite
def tables(draw, names: list[str], *, required: list[str] = (), max_rows: int = 12):
    """(columns, rows): mostly the expected columns, some missing, duplicated or odd."""
    cols = list(required) if draw(st.booleans()) else []
    cols += draw(st.lists(st.sampled_from(names), max_size=5))
    if draw(st.integers(0, 9)) == 0:
        cols = [c for c in cols if c != draw(st.sampled_from(names))]
    n = draw(st.integers(0, max_rows))
    rows = [[draw(CELLS) for _ in cols] for _ in range(n)]
    return cols, rows


def _csv(cols, rows, sep=",") -> bytes:
    import csv

    out = io.StringIO()
    w = csv.writer(out, delimiter=sep, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell_text(v) for v in r])
    return out.getvalue().encode("utf-8", "surrogatepass")


def _jsonl(cols, rows) -> bytes:
    return "".join(json.dumps(dict(zip(cols, r)), default=str) + "\n" for r in rows).encode("utf-8", "surrogatepass")


def _parquet(cols, rows) -> bytes:
    if not cols or len(set(cols)) != len(cols):
        return b"PAR1 not really PAR1"
    arrays = {}
    for i, c in enumerate(cols):
        values = [r[i] for r in rows]
        if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            arrays[c] = pa.array([float(v) for v in values])
        else:
            arrays[c] = pa.array([None if v is None else str(v) for v in values], pa.string())
    sink = io.BytesIO()
    pq.write_table(pa.table(arrays), sink)
    return sink.getvalue()


@st.composite
def table_files(draw, names, *, required=(), max_rows=12):
    """(suffix, bytes) of a table in one of the readers' formats, or broken."""
    cols, rows = draw(tables(names, required=required, max_rows=max_rows))
    kind = draw(st.sampled_from(["csv", "csv", "csv", "tsv", "jsonl", "parquet", "parquet", "truncated",
                                 "garbage", "empty", "latin1", "huge_cell", "utf16", "bom"]))
    if kind == "csv":
        return ".csv", _csv(cols, rows)
    if kind == "tsv":
        return ".tsv", _csv(cols, rows, sep="\t")
    if kind == "jsonl":
        return ".jsonl", _jsonl(cols, rows)
    if kind == "parquet":
        return ".parquet", _parquet(cols, rows)
    if kind == "truncated":
        data = _parquet(cols, rows)
        return ".parquet", data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if kind == "garbage":
        return draw(st.sampled_from([".csv", ".parquet", ".jsonl", ".arrow"])), draw(st.binary(max_size=200))
    if kind == "empty":
        return ".csv", b""
    if kind == "latin1":
        return ".csv", ",".join(cols).encode() + b"\n\xe9\xff\xfe,\x00\n"
    if kind in ("utf16", "bom"):  # Excel's "Unicode Text" (with or without its byte-order mark), UTF-8 with one
        text = _csv(cols, rows).decode("utf-8", "replace")
        encoding = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"])) if kind == "utf16" else "utf-8-sig"
        return draw(st.sampled_from([".csv", ".tsv"])), text.encode(encoding, "replace")
    text = _csv(cols, rows).decode("utf-8", "replace")
    return ".csv", (text + ",".join(["z" * 140_000] * max(1, len(cols))) + "\n").encode()


def _write(folder: Path, name: str, payload: tuple[str, bytes]) -> Path:
    suffix, data = payload
    path = folder / f"{name}{suffix}"
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


# ---- predictions --------------------------------------------------------------------------------

PRED_COLS = ["id", "split", "y_true", "y_pred", "weight", "proba_a", "proba_b", "text", "", "split "]
PRED_REQUIRED = ["id", "split", "y_true", "y_pred"]


@st.composite
def valid_ish_predictions(draw):
    """A table that passes validation often, so the computations themselves are exercised."""
    n = draw(st.integers(1, 40))
    labels = draw(st.lists(st.sampled_from(["a", "b", "c", "[/]", "1", "2"]), min_size=1, max_size=3, unique=True))
    rows = []
    for i in range(n):
        t, p = draw(st.sampled_from(labels)), draw(st.sampled_from(labels))
        pa_ = draw(st.floats(0, 1))
        rows.append([f"r{i}", draw(st.sampled_from(["train", "train_dev", "dev", "test"])), t, p,
                     draw(st.sampled_from([1, 0, 2.5, -1, "x", None])), pa_, 1 - pa_])
    return ".csv", _csv(["id", "split", "y_true", "y_pred", "weight", "proba_a", "proba_b"], rows)


PRED_COMMANDS = [
    ["metrics", "{p}"], ["metrics", "{p}", "--weight", "weight"], ["metrics", "{p}", "--split", "dev"],
    ["metrics", "{p}", "--pos-label", "a", "--zero-division", "nan"],
    ["diagnose", "{p}", "--no-record"], ["diagnose", "{p}", "--no-record", "--human", "1%", "--metric", "f1"],
    ["diagnose", "{p}", "--no-record", "--metric", "weighted_error", "--json"],
    ["labels", "{p}"], ["labels", "{p}", "--split", "train", "-o", "{d}/labels.csv", "--force"],
    ["errors", "sample", "{p}", "-o", "{d}/sheet.csv", "--force", "--categories", "blurry,[x]"],
    ["errors", "sample", "{p}", "-o", "{d}/sheet.csv", "--force", "-n", "3", "--include-correct", "2"],
    ["threshold", "{p}"], ["threshold", "{p}", "--positive", "b", "--require", "precision>=50%"],
    ["errors", "slices", "{p}"], ["metrics", "{p}", "--by", "text"],
]  # `report` is fuzzed through the stores family (it renders charts: slow per call)


@seed(SEED)
@_settings("predictions")
@given(st.one_of(table_files(PRED_COLS, required=PRED_REQUIRED), table_files(PRED_COLS, required=PRED_REQUIRED),
                 table_files(PRED_COLS, required=PRED_REQUIRED), valid_ish_predictions()),
       st.sampled_from(PRED_COMMANDS))
def test_predictions(work, payload, command):
    path = _write(work, "preds", payload)
    run_cli([a.format(p=path, d=work) for a in command], "predictions")


# ---- manifests -------------------------------------------------------------------------------------

MANIFEST_COLS = ["id", "label", "domain", "group", "path", "x", "", "id "]


@st.composite
def valid_ish_manifests(draw):
    n = draw(st.integers(1, 60))
    rows = [[draw(st.sampled_from([f"i{i}", i, "dup", None])), draw(st.sampled_from(["a", "b", "[/]", None])),
             draw(st.sampled_from(["web", "app", "phone", None])), draw(st.sampled_from(["g1", "g2", f"g{i}", None]))]
            for i in range(n)]
    return ".csv", _csv(["id", "label", "domain", "group"], rows)


SPLIT_FLAGS = st.lists(st.sampled_from([
    ["--label", "label"], ["--domain", "domain"], ["--target", "app"], ["--target", "[/]"], ["--group", "group"],
    ["--dev-size", "0.3"], ["--dev-size", "5"], ["--dev-size", "-1"], ["--dev-size", "200%"], ["--test-size", "1"],
    ["--test-size", "abc"], ["--train-dev", "none"], ["--train-dev", "0.5"], ["--resolve", "1%"],
    ["--expected-error", "5%"], ["--content", "label,domain"], ["--mix"], ["--fail-on", "leakage"],
    ["--fail-on", "nothing"], ["--salt", "[/]'"], ["--memory-limit", "1GB"], ["--memory-limit", "1GB'; DROP"],
    ["--json"], ["--lock", "{d}/lock.parquet"], ["--id", "x"],
]), max_size=5)


@seed(SEED)
@_settings("manifests")
@given(st.one_of(table_files(MANIFEST_COLS, required=["id", "label"], max_rows=30), valid_ish_manifests()),
       SPLIT_FLAGS)
def test_manifests(work, payload, flags):
    path = _write(work, "manifest", payload)
    args = ["split", path, "-o", work / "split.parquet", "--force"] + [a.format(d=work) for f in flags for a in f]
    run_cli(args, "manifests")


# ---- candidates (select) ------------------------------------------------------------------------


@seed(SEED)
@_settings("candidates")
@given(table_files(["name", "acc", "latency", "", "acc"], required=["name", "acc"]),
       st.lists(st.sampled_from(["latency<100", "acc>=0.5", "latency", "x<1", "acc<<1", "latency<inf"]), max_size=2),
       st.sampled_from([["--maximize", "acc"], ["--minimize", "latency"], ["--maximize", "nope"], []]))
def test_candidates(work, payload, require, optimize):
    path = _write(work, "candidates", payload)
    run_cli(["select", path, *optimize, *[a for r in require for a in ("--require", r)]], "candidates")


# ---- sheets and meta files ----------------------------------------------------------------------

SHEET_COLS = ["id", "y_true", "y_pred", "sampled_as", "comment", "blurry", "mislabeled", "", "id", "Blurry"]
MARKS = st.sampled_from(["", "1", "x", "yes", "✓", "0", "no", "maybe", "[/]", "=1+1", "'=x", " 1 "])
META = st.one_of(
    st.fixed_dictionaries({"split": st.sampled_from(["dev", "test", 3, None]),
                           "split_error": st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                                    st.sampled_from(["abc", None, True, [0.1], -0.5, 0.2])),
                           "columns": st.sampled_from([["id", "y_true", "y_pred"], ["id"], "id", [1], []])}),
    st.sampled_from(["{", "[]", "null", "\"text\"", "{\"split\": \"dev\"}", "\xff", ""]),
)


@st.composite
def sheets(draw):
    cols = draw(st.lists(st.sampled_from(SHEET_COLS), min_size=0, max_size=7))
    if draw(st.booleans()):
        cols = ["id", "y_true", "y_pred"] + cols
    rows = [[draw(MARKS) if c not in ("id", "") else draw(st.sampled_from(["r1", "r2", "r1", "", "x"]))
             for c in cols] + draw(st.lists(MARKS, max_size=2)) for _ in range(draw(st.integers(0, 8)))]
    meta = draw(META)
    # a spreadsheet in some locales saves "CSV" with semicolons
    return _csv(cols, rows, sep=draw(st.sampled_from([",", ",", ",", ",", ";", "\t"]))), meta


def _write_sheet(work: Path, sheet: bytes, meta, name="sheet") -> Path:
    path = work / f"{name}.csv"
    path.write_bytes(sheet)
    mpath = work / f"{name}.csv.meta.json"
    for stale in (mpath, work / f"{name}.csv.ui.sqlite"):
        if stale.exists():
            stale.unlink()
    if meta is not None:
        mpath.write_text(meta if isinstance(meta, str) else json.dumps(meta), encoding="utf-8", errors="surrogatepass")
    return path


@seed(SEED)
@_settings("sheets")
@given(sheets(), st.sampled_from([["--json"], [], ["--mislabeled", "blurry"], ["second"]]))
def test_sheets(work, sheet, flags):
    path = _write_sheet(work, *sheet)
    if flags == ["second"]:
        run_cli(["errors", "summarize", path, path], "sheets")
    else:
        run_cli(["errors", "summarize", path, *flags], "sheets")


@seed(SEED)
@_settings("ui")
@given(sheets(), st.lists(st.tuples(st.sampled_from(["tag", "comment", "category", "position"]),
                                    st.one_of(st.dictionaries(st.sampled_from(["id", "category", "on", "text",
                                                                                "name", "position", "x"]),
                                                              CELLS | st.booleans(), max_size=4),
                                              st.just([1]))), max_size=4))
def test_ui(work, sheet, posts):
    """The tagging UI's store and API on malformed sheets: a refusal is an MlstratError at start;
    once started, every answer is 200, 400 or 404, never a 500."""
    from mlstrat import MlstratError
    from mlstrat.errors.ui import TagStore, create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    TALLY["ui"] += 1
    path = _write_sheet(work, *sheet, name="uisheet")
    try:
        store = TagStore(path)
    except MlstratError:
        return
    try:
        client = TestClient(create_app(store, token="t"), raise_server_exceptions=False)
        h = {"X-Mlstrat-Token": "t"}
        for url in ("/?token=t", "/api/state", "/api/rows/0", "/api/rows/99"):
            assert client.get(url, headers=h).status_code in (200, 404), (url, REPLAY)
        for action, body in posts:
            r = client.post(f"/api/{action}", content=json.dumps(body, default=str).encode(), headers=h)
            assert r.status_code in (200, 400), (action, body, r.status_code, r.text[:500], REPLAY)
        assert client.get("/api/state", headers=h).status_code == 200, REPLAY
    finally:
        store.close()


# ---- TOML configs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_manifest(work):
    rows = [[f"r{i}", ["train", "dev", "test", "train_dev"][i % 4], "ab"[i % 2 == 0 or i % 3 == 0],
             *(float((i * 7 + j) % 5) for j in range(4))] for i in range(24)]
    path = work / "tiny.csv"
    path.write_bytes(_csv(["id", "split", "label", "px_0", "px_1", "px_2", "px_3"], rows))
    return path


VALUES = {
    ("data", "manifest"): ["{m}", "missing.csv", 3, "", "{d}"],
    ("data", "feature_prefix"): ["px_", "nope_", 1],
    ("data", "label"): ["label", "px_0", "id"],
    ("data", "loader"): ["memory", "stream", "auto", "magic"],
    ("model", "hidden"): [[4], [2_000_000_000], [-1], [], "x", [0.5], [4, 4]],
    ("model", "activation"): ["relu", "tanh", "sigmoid", 1],
    ("model", "kind"): ["mlp", "cnn", "rnn"],
    ("optim", "lr"): [0.01, 1e300, -1.0, 0.0, "fast", float("inf")],
    ("optim", "epochs"): [1, 2, 0, -1, 10**12, 1.5],
    ("optim", "batch_size"): [4, 0, -3, 2**40],
    ("optim", "threads"): [1, 0, 100_000, -2],
    ("optim", "optimizer"): ["adam", "sgd", "gd"],
    ("regularization", "keep_prob"): [1.0, 0.5, 0.0, 2.0, [0.5, 0.5]],
    ("regularization", "l2"): [0.0, 0.1, -1.0],
    ("early_stopping", "patience"): [0, 2, -1],
    ("nonsense", "key"): [1],
}


def _toml_value(v) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, float) and v != v:
        return "nan"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v).lower() if isinstance(v, bool) else str(v)


@st.composite
def configs(draw):
    kind = draw(st.sampled_from(["toml"] * 8 + ["binary", "latin1", "empty", "folder", "broken", "bom", "utf16"]))
    if kind == "binary":
        return draw(st.binary(max_size=100))
    if kind == "latin1":
        return b"[optim]\nlr = 0.1 # \xe9\xff\n"
    if kind == "empty":
        return b""
    if kind == "folder":
        return None
    if kind == "broken":
        return b"[optim\nlr = = 1\n"
    if kind in ("bom", "utf16"):  # saved by Windows Notepad
        return '[data]\nmanifest = "{m}"\nfeature_prefix = "px_"\n'.encode("utf-8-sig" if kind == "bom" else "utf-16")
    chosen = {("data", "manifest"): "{m}", ("data", "feature_prefix"): "px_", ("optim", "epochs"): 1}
    for key in draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=4)):
        chosen[key] = draw(st.sampled_from(VALUES[key]))
    sections: dict[str, list[str]] = {}
    for (section, key), value in chosen.items():
        sections.setdefault(section, []).append(f"{key} = {_toml_value(value)}")
    return "\n".join(f"[{s}]\n" + "\n".join(lines) for s, lines in sections.items()).encode()


@seed(SEED)
@_settings("configs")
@given(configs(), st.sampled_from(["train", "train", "gradcheck"]))
def test_configs(work, tiny_manifest, config, command):
    path = work / "config.toml"
    if path.is_dir():
        path.rmdir()
    if config is None:
        path.unlink(missing_ok=True)
        path.mkdir()
    else:
        path.unlink(missing_ok=True)
        path.write_bytes(config.replace(b"{m}", str(tiny_manifest).encode()).replace(b"{d}", str(work).encode()))
    if command == "train":
        args = ["train", path, "-o", work / "run", "--force", "--no-record"]
    else:
        args = ["gradcheck", path]
    try:
        run_cli(args, "configs")
    finally:
        if path.is_dir():
            path.rmdir()


# ---- run stores ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_store(work):
    preds = work / "store_preds.csv"
    preds.write_bytes(_csv(["id", "split", "y_true", "y_pred"],
                           [[i, s, "a", "ab"[i % 3 == 0]] for i in range(40) for s in ("train", "dev")]))
    store = work / "good.db"
    for note in ("first", "[/]second\x1b"):
        res = runner.invoke(app, ["diagnose", str(preds), "--store", str(store), "--note", note])
        assert res.exit_code == 0, res.output
    return store


DAMAGE = st.sampled_from(["json", "json_list", "seq", "created", "bytes", "truncate", "empty", "text",
                          "folder", "drop_table", "none"])


@seed(SEED)
@_settings("stores")
@given(DAMAGE, st.sampled_from(["config", "metrics", "diagnosis"]), st.integers(0, 10_000),
       st.sampled_from([["runs", "list"], ["runs", "list", "--json"], ["runs", "show", "latest"],
                        ["runs", "show", "latest~1"], ["runs", "compare", "latest~1", "latest"],
                        ["runs", "show", "zz"], ["report", "latest", "-o", "{d}/store_report.html", "--force"]]))
def test_stores(work, good_store, damage, column, offset, command):
    import shutil

    path = work / "damaged.db"
    if path.is_dir():
        path.rmdir()
    for extra in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        extra.unlink(missing_ok=True)
    shutil.copy(good_store, path)
    if damage in ("json", "json_list", "seq", "created", "drop_table"):
        con = sqlite3.connect(path)
        sql = {"json": f"UPDATE runs SET {column} = '{{not json' WHERE seq = 1",
               "json_list": f"UPDATE runs SET {column} = '[1, 2]' WHERE seq = 2",
               "seq": "UPDATE runs SET seq = 'x' WHERE seq = 1",
               "created": "UPDATE runs SET created_at = x'00ff'",
               "drop_table": "DROP TABLE runs"}[damage]
        con.execute(sql)
        con.commit()
        con.close()
    elif damage == "bytes":
        data = bytearray(path.read_bytes())
        at = offset % len(data)
        data[at:at + 64] = os.urandom(64)
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: offset % len(data)])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "text":
        path.write_text("not a database\n")
    elif damage == "folder":
        path.unlink()
        path.mkdir()
    try:
        run_cli([a.format(d=work) for a in command] + ["--store", path], "stores")
    finally:
        if path.is_dir():
            path.rmdir()


# ---- paths ----------------------------------------------------------------------------------------

PATHS = ["{d}/missing.csv", "{d}", "/dev/null", "{d}/file.unknown", "{d}/o'brien.csv", "{d}/[/]x.csv",
         "{d}/new\nline.csv", "", "-", "{d}/nofolder/out.parquet", "{d}/preds_ok.csv"]


@pytest.fixture(scope="module")
def ok_preds(work):
    path = work / "preds_ok.csv"
    path.write_bytes(_csv(["id", "split", "y_true", "y_pred"],
                          [[i, s, "a", "ab"[i % 4 == 0]] for i in range(30) for s in ("train", "dev", "test")]))
    (work / "file.unknown").write_text("id\n1\n")
    (work / "o'brien.csv").write_bytes(path.read_bytes())
    return path


@seed(SEED)
@_settings("paths")
@given(st.sampled_from(PATHS), st.sampled_from(PATHS),
       st.sampled_from([["metrics", "{a}"], ["split", "{a}", "-o", "{b}"], ["split", "{a}", "-o", "{b}", "--force"],
                        ["errors", "sample", "{a}", "-o", "{b}", "--force"], ["labels", "{a}", "-o", "{b}"],
                        ["report", "{a}", "-o", "{b}", "--force"], ["errors", "summarize", "{a}"],
                        ["train", "{a}", "-o", "{b}"], ["select", "{a}", "--maximize", "y_true"],
                        ["predict", "{a}", "{a}", "-o", "{b}"], ["errors", "ui", "{a}", "--port", "-5"],
                        ["runs", "list", "--store", "{a}"]]))
def test_paths(work, ok_preds, a, b, command):
    a, b = (p.format(d=work) for p in (a, b))
    protected = {str(ok_preds), str(work / "o'brien.csv")}
    if "--force" in command and b != a:
        protected.discard(b)  # --force asks to replace an output that is not this command's input
    before = {p: Path(p).read_bytes() for p in protected}
    home = os.getcwd()
    os.chdir(work)  # relative paths such as "-" land in the test's folder, not the checkout
    try:
        run_cli([x.format(a=a, b=b) for x in command], "paths")
    finally:
        os.chdir(home)
    assert {p: Path(p).read_bytes() for p in protected} == before, f"an input was overwritten ({REPLAY})"


# ---- hostile tables: list-typed columns, null and bytes labels, probabilities out of range ----------

#: inputs of each hostile family: few, so the families add seconds, not minutes
HOSTILE_N = max(4, round(FUZZ_N * 0.013))
ODD_TEXT = ["\x1b[31m", "[/]", "=1+2", "\u2028", "\t", "\x7f", "猫", "é", "'", "\"", "\\", "a,b", " ", ""]
HOSTILE_KINDS = ["proba_vector", "proba_vector_text", "proba_singletons", "proba_ragged", "label_lists",
                 "null_labels", "bytes", "out_of_range", "odd_names", "odd_values", "long_field",
                 "decimals", "structs", "text_proba"]


def _probabilities(draw, n: int, k: int) -> list[list[float]]:
    rows = []
    for _ in range(n):
        raw = [draw(st.floats(0.01, 1)) for _ in range(k)]
        rows.append([v / sum(raw) for v in raw])
    return rows


@st.composite
def hostile_predictions(draw):
    """(suffix, bytes): a predictions table of one hostile kind (Parquet carries the types CSV cannot)."""
    kind = draw(st.sampled_from(HOSTILE_KINDS))
    n = draw(st.integers(1, 24))
    k = draw(st.integers(2, 3))
    y_true = [draw(st.integers(0, k - 1)) for _ in range(n)]
    y_pred = [draw(st.integers(0, k - 1)) for _ in range(n)]
    proba = _probabilities(draw, n, k)
    # one spelling of dev per table: "dev" beside "validation" is refused before anything else
    names = ["train", draw(st.sampled_from(["dev", "validation"])), "train-dev"]
    cols: dict[str, list] = {"id": [f"r{i}" for i in range(n)],
                             "split": [draw(st.sampled_from(names)) for _ in range(n)],
                             "y_true": y_true, "y_pred": y_pred}
    if kind in ("proba_vector", "proba_vector_text"):
        cols["proba"] = proba
        if kind == "proba_vector_text":
            cols["y_true"] = [draw(st.sampled_from(["a", "b", "c"])) for _ in range(n)]
    elif kind in ("proba_singletons", "proba_ragged"):
        for j in range(k):
            cols[f"proba_{j}"] = [[p[j]] * (1 if kind == "proba_singletons" else draw(st.integers(0, 3)))
                                  for p in proba]
    elif kind == "label_lists":
        cols["y_true"] = [[v] * draw(st.integers(0, 2)) for v in y_true]
    elif kind == "null_labels":
        cols["y_true"] = [None if draw(st.booleans()) else v for v in y_true]
    elif kind == "bytes":
        key = draw(st.sampled_from(["id", "y_true", "y_pred"]))
        cols[key] = [str(v).encode() + draw(st.sampled_from([b"", b"\xff", b"\x00"])) for v in cols[key]]
    elif kind == "out_of_range":
        bad = [draw(st.sampled_from([-0.5, 1.5, float("nan"), float("inf"), -1e300, 3.0])) for _ in range(n)]
        for j in range(k):
            cols[f"proba_{j}"] = [b if draw(st.booleans()) else p[j] for p, b in zip(proba, bad)]
    elif kind == "odd_names":
        for j in range(k):
            cols[f"proba_{draw(st.sampled_from(ODD_TEXT))}{j}"] = [p[j] for p in proba]
        cols[draw(st.sampled_from(ODD_TEXT)) or "_"] = ["x"] * n
    elif kind == "decimals":  # Spark and SQL exports write fixed-point numbers as decimals
        scale = draw(st.sampled_from([0, 1, 3]))
        for key in draw(st.lists(st.sampled_from(["y_true", "y_pred", "proba_0", "proba_1"]), min_size=1, unique=True)):
            values = cols[key] if key in ("y_true", "y_pred") else [p[int(key[-1])] for p in proba]
            cols[key] = pa.array([decimal.Decimal(f"{v * draw(st.sampled_from([1, 1.5])):.{scale}f}") for v in values],
                                 pa.decimal128(12, scale))
    elif kind == "structs":  # a nested column where a label, a probability or an extra column is expected
        key = draw(st.sampled_from(["y_true", "id", "split", "proba_0", "proba_1", "meta"]))
        base = cols.get(key, [0.5] * n) if not key.startswith("proba_") else [p[int(key[-1])] for p in proba]
        cols[key] = [{"value": v, "tags": [str(v)]} for v in base]
    elif kind == "text_proba":  # a probability column read as text: a number in most rows, a word in some
        for j in range(k):
            cols[f"proba_{j}"] = [draw(st.sampled_from([f"{p[j]:.3f}", f"{p[j]:.3f}", "", "high", "n/a"]))
                                  for p in proba]
    elif kind == "odd_values":
        labels = draw(st.lists(st.sampled_from(ODD_TEXT), min_size=k, max_size=k, unique=True))
        cols["y_true"], cols["y_pred"] = [labels[v] for v in y_true], [labels[v] for v in y_pred]
        cols["id"] = [f"{draw(st.sampled_from(ODD_TEXT))}{i}" for i in range(n)]
        for j in range(k):
            cols[f"proba_{labels[j]}"] = [p[j] for p in proba]
    else:  # long_field: past DuckDB's 2 MB line limit, as CSV
        rows = [[cols["id"][i], cols["split"][i], y_true[i], y_pred[i], "x" * (2_200_000 if i == 0 else 3)]
                for i in range(n)]
        return ".csv", _csv(["id", "split", "y_true", "y_pred", "text"], rows)
    sink = io.BytesIO()
    pq.write_table(pa.table(cols), sink)
    return ".parquet", sink.getvalue()


HOSTILE_COMMANDS = [["labels", "{p}"], ["labels", "{p}", "--split", "validation"], ["metrics", "{p}"],
                    ["diagnose", "{p}", "--no-record"], ["threshold", "{p}"],
                    ["errors", "sample", "{p}", "-o", "{d}/hostile_sheet.csv", "--force", "--split", "val"]]


@seed(SEED)
@_settings("hostile", examples=HOSTILE_N)
@given(hostile_predictions(), st.sampled_from(HOSTILE_COMMANDS))
def test_hostile_predictions(work, payload, command):
    path = _write(work, "hostile_preds", payload)
    run_cli([a.format(p=path, d=work) for a in command], "hostile")


@st.composite
def hostile_manifests(draw):
    n = draw(st.integers(1, 30))
    kind = draw(st.sampled_from(["label_lists", "null_labels", "bytes", "odd", "all_null", "structs", "decimals"]))
    cols: dict[str, list] = {"id": [f"i{i}" for i in range(n)], "label": [draw(st.sampled_from("ab")) for _ in range(n)],
                             "domain": [draw(st.sampled_from(["web", "app"])) for _ in range(n)],
                             "group": [f"g{draw(st.integers(0, 4))}" for _ in range(n)]}
    if kind == "label_lists":
        cols["label"] = [[v] for v in cols["label"]]
    elif kind == "null_labels":
        cols["label"] = [None if draw(st.booleans()) else v for v in cols["label"]]
    elif kind == "all_null":
        cols["label"] = pa.array([None] * n, pa.string())
    elif kind == "structs":
        key = draw(st.sampled_from(["id", "label", "domain", "group"]))
        cols[key] = [{"value": v} for v in cols[key]]
    elif kind == "decimals":
        cols["label"] = pa.array([decimal.Decimal(1 if v == "a" else 2) for v in cols["label"]], pa.decimal128(5, 0))
        cols["id"] = pa.array([decimal.Decimal(i) / 2 for i in range(n)], pa.decimal128(8, 1))
    elif kind == "bytes":
        key = draw(st.sampled_from(["id", "label", "domain", "group"]))
        cols[key] = [str(v).encode() + draw(st.sampled_from([b"", b"\xff"])) for v in cols[key]]
    else:
        cols["label"] = [draw(st.sampled_from(ODD_TEXT)) for _ in range(n)]
        cols["domain"] = [draw(st.sampled_from(ODD_TEXT + ["app"])) for _ in range(n)]
    sink = io.BytesIO()
    pq.write_table(pa.table(cols), sink)
    return ".parquet", sink.getvalue()


@seed(SEED)
@_settings("hostile", examples=HOSTILE_N)
@given(hostile_manifests(), st.sampled_from([[], ["--label", "label"], ["--label", "label", "--group", "group"],
                                             ["--label", "label", "--domain", "domain", "--target", "app"],
                                             ["--domain", "domain", "--target", "app", "--group", "group"]]))
def test_hostile_manifests(work, payload, flags):
    path = _write(work, "hostile_manifest", payload)
    run_cli(["split", path, "-o", work / "hostile_split.parquet", "--force", *flags], "hostile")


def test_zz_count():
    """Runs last (file order): the number of inputs driven through the CLI in this session."""
    total = sum(TALLY.values())
    print(f"\nfuzz inputs per family: {dict(TALLY)}; total {total}")
    if set(SHARES) <= set(TALLY):  # the whole module ran
        assert total >= min(FUZZ_N, 1000) * 0.95
