"""Fuzzing: malformed tables and options end in a clear MlstratError or a valid split, never a crash.

1 000+ generated malformed tables: 500 written as files (CSV, TSV, JSONL, Parquet, truncated
or garbage bytes) through the reader, 500 in memory through the option checks, plus 500
option strings through the size/rate parsers.
"""

import io
import warnings

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlstrat import SPLITS, MlstratError
from mlstrat.splits import split
from mlstrat.splits._policy import parse_error_rate, parse_request
from mlstrat.tables import connect

CON = connect()
FUZZ = settings(max_examples=500, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

names = st.sampled_from(["id", "label", "domain", "group", "x", "", "id ", "ID", "split"])
cells = st.one_of(st.none(), st.sampled_from(["", "a", "b", "app", "web", "1", "2", "nan", "\"", ",", "é"]),
                  st.integers(-3, 5))


@st.composite
def raw_tables(draw):
    cols = draw(st.lists(names, min_size=0, max_size=4))
    n = draw(st.integers(0, 12))
    rows = [[draw(cells) for _ in cols] for _ in range(n)]
    return cols, rows


def _csv(cols, rows, sep=","):
    out = io.StringIO()
    out.write(sep.join(cols) + "\n")
    for r in rows:
        out.write(sep.join("" if v is None else str(v) for v in r) + "\n")
    return out.getvalue().encode()


def _jsonl(cols, rows):
    import json

    return "".join(json.dumps(dict(zip(cols, r))) + "\n" for r in rows).encode()


def _parquet(cols, rows):
    if len(set(cols)) != len(cols) or not cols:
        return b"PAR1garbagePAR1"
    table = pa.table({c: pa.array([str(r[i]) if r[i] is not None else None for r in rows], pa.string())
                      for i, c in enumerate(cols)})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


options = st.fixed_dictionaries({}, optional={
    "label": st.sampled_from(["label", "x", "nolabel"]),
    "domain": st.sampled_from(["domain", "x"]),
    "target": st.sampled_from(["app", "web", "zzz"]),
    "group": st.sampled_from(["group", "x"]),
    "dev_size": st.sampled_from(["auto", "1", "0.5", "0", "-1", "abc", "2", "50%", 3]),
    "test_size": st.sampled_from(["auto", "1", "0.3", "10", "1.5"]),
    "train_dev": st.sampled_from(["auto", "none", "1", "0.5", "x"]),
    "mix": st.booleans(),
    "content": st.sampled_from(["x", "label,domain", "missing"]),
})


def _check(source, opts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = split(source, con=CON, **opts)
        except MlstratError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
    rows = res.table.select("split").to_pyarrow().column("split").to_pylist()
    assert sum(res.sizes.values()) == len(rows) and set(rows) <= set(SPLITS)


@FUZZ
@given(table=raw_tables(), fmt=st.sampled_from(["csv", "tsv", "jsonl", "parquet", "garbage", "truncated"]),
       opts=options)
def test_reader_fuzz(tmp_path_factory, table, fmt, opts):
    cols, rows = table
    data = {
        "csv": lambda: _csv(cols, rows), "tsv": lambda: _csv(cols, rows, "\t"),
        "jsonl": lambda: _jsonl(cols, rows), "parquet": lambda: _parquet(cols, rows),
        "garbage": lambda: bytes(range(256)) * 2, "truncated": lambda: _parquet(cols, rows)[:20],
    }[fmt]()
    suffix = {"garbage": "parquet", "truncated": "parquet"}.get(fmt, fmt)
    path = tmp_path_factory.mktemp("fz") / f"m.{suffix}"
    path.write_bytes(data)
    _check(path, opts)


@FUZZ
@given(table=raw_tables(), opts=options)
def test_in_memory_table_fuzz(table, opts):
    cols, rows = table
    first = {c: i for i, c in reversed(list(enumerate(cols)))}  # a DataFrame cannot repeat a column
    arrays = {c: pa.array([None if r[i] is None else str(r[i]) for r in rows], pa.string())
              for c, i in first.items()}
    _check(pa.table(arrays) if arrays else {"id": []}, opts)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(text=st.one_of(st.text(max_size=8), st.integers(-10, 10**6), st.floats(allow_nan=True),
                      st.booleans(), st.sampled_from(["auto", "none", "5%", "0.5", "1e3", "inf", "-0", "100%"])))
def test_option_parser_fuzz(text):
    for parse in (lambda t: parse_request(t, name="dev_size"),
                  lambda t: parse_request(t, name="train_dev", allow_none=True),
                  lambda t: parse_error_rate(t, name="resolve")):
        try:
            parse(text)
        except MlstratError as exc:
            assert str(exc)
