"""Wide CSVs: a command reads the columns it needs, typed as in a narrow file, and nothing else."""

from __future__ import annotations

import pytest

from mlstrat import InputError
from mlstrat.tables import PREDICTION_COLUMNS, connect, read_predictions, read_table, select_columns
from mlstrat.tables._engine import WIDE_CSV

WIDTH = WIDE_CSV + 44  # feature columns: the file is read column by column past WIDE_CSV
ROWS = 60
CORE = ["id", "split", "y_true", "y_pred", "score", "when", "proba_a", "proba_b"]


def _row(i: int) -> list[str]:
    y_pred = "ab"[i % 3 == 0]
    p = 0.8 if y_pred == "a" else 0.3
    return [f"{i:03d}", ("train", "dev", "test")[i % 3], "a", y_pred, f"{i / 7:.4f}",
            f"2024-01-{1 + i % 28:02d}", f"{p:.2f}", f"{1 - p:.2f}"]


def _write(path, core: list[list[str]], header: list[str] | None = None, *,
           junk: bytes | None = None) -> None:
    """CORE columns with WIDTH integer features between them; ``junk`` replaces one late feature value."""
    head = header or CORE[:4] + [f"f{j}" for j in range(WIDTH)] + CORE[4:]
    lines = [",".join(head).encode()]
    for i, values in enumerate(core):
        features = [str((i * 31 + j) % 256).encode() for j in range(WIDTH)]
        if junk is not None and i == len(core) - 1:
            features[7] = junk
        cells = [v.encode() for v in values[:4]] + features + [v.encode() for v in values[4:]]
        lines.append(b",".join(cells))
    path.write_bytes(b"\n".join(lines) + b"\n")


@pytest.fixture()
def files(tmp_path):
    rows = [_row(i) for i in range(ROWS)]
    wide, narrow = tmp_path / "wide.csv", tmp_path / "narrow.csv"
    _write(wide, rows)
    narrow.write_text("\n".join(",".join(r) for r in [CORE, *rows]) + "\n")
    return wide, narrow


def _temp_table_widths(con) -> dict[str, int]:
    rows = con.raw_sql("SELECT table_name, column_count FROM duckdb_tables() WHERE temporary").fetchall()
    return dict(rows)


@pytest.mark.filterwarnings("ignore::mlstrat.UndefinedMetricWarning")
def test_metrics_and_diagnosis_of_a_wide_csv_equal_those_of_its_narrow_columns(files):
    from mlstrat.diagnosis import diagnose
    from mlstrat.metrics import compute_metrics

    wide, narrow = files
    con = connect()
    assert compute_metrics(str(wide), con=con, test=True, store=False).to_dict()["splits"] == \
        compute_metrics(str(narrow), con=con, test=True, store=False).to_dict()["splits"]
    a = diagnose(str(wide), human=0.01, con=con, store=False).to_dict()
    b = diagnose(str(narrow), human=0.01, con=con, store=False).to_dict()
    assert a["errors"] == b["errors"] and a["components"] == b["components"]
    # only the needed columns were materialized: no table of the session holds the features
    assert max(_temp_table_widths(con).values()) <= len(CORE)


def test_selected_columns_keep_the_types_duckdb_gives_a_narrow_file(files):
    wide, narrow = files
    con = connect()
    wanted = select_columns("id", "y_true", "score", "when", "proba_a")
    a = read_table(wide, con=con, columns=wanted, text_columns=["id"])
    b = read_table(narrow, con=con, columns=wanted, text_columns=["id"])
    assert list(a.columns) == list(b.columns) == ["id", "y_true", "score", "when", "proba_a"]
    assert a.schema() == b.schema()
    assert str(a.schema()["when"]) == "date" and str(a.schema()["score"]) == "float64"
    assert a.to_pyarrow().equals(b.to_pyarrow())
    assert a.to_pyarrow().column("id").to_pylist()[:2] == ["000", "001"]  # keys keep their spelling


@pytest.mark.filterwarnings("ignore::mlstrat.UndefinedMetricWarning")
def test_a_bad_value_in_an_unused_column_does_not_matter(tmp_path):
    """Invalid UTF-8 in a feature column: reading every column fails, the command's columns read."""
    from mlstrat.metrics import compute_metrics

    rows = [_row(i) for i in range(ROWS)]
    wide, narrow = tmp_path / "wide.csv", tmp_path / "narrow.csv"
    _write(wide, rows, junk=b"\xff\xfe")
    narrow.write_text("\n".join(",".join(r) for r in [CORE, *rows]) + "\n")
    con = connect()
    with pytest.raises(InputError, match=r"wide\.csv: cannot be read as CSV \(.*"):
        read_table(wide, con=con)  # the engine's own reader converts every column
    assert compute_metrics(str(wide), con=con).to_dict()["splits"] == \
        compute_metrics(str(narrow), con=con).to_dict()["splits"]


def test_a_missing_column_of_a_wide_csv_is_named_with_the_files_columns(tmp_path):
    rows = [_row(i) for i in range(5)]
    head = ["id", "split", "y_true", "y_prd", *(f"f{j}" for j in range(WIDTH)), *CORE[4:]]
    wide = tmp_path / "wide.csv"
    _write(wide, rows, header=head)
    shown = ", ".join(head[:20])
    with pytest.raises(InputError) as err:
        read_predictions(wide, con=connect(), columns=PREDICTION_COLUMNS)
    assert str(err.value) == (f"{wide}: missing column 'y_pred' (did you mean 'y_prd'?); "
                              f"available columns: {shown}, ...")


def test_a_header_duckdb_would_rename_is_refused(tmp_path):
    """Duplicate names: DuckDB's sniffer would rename the copies (``f_1``, ...) and a command would
    read the first; the header is refused before the sniffer runs."""
    rows = [_row(i) for i in range(5)]
    head = CORE[:4] + ["f"] * WIDTH + CORE[4:]
    wide = tmp_path / "dup.csv"
    _write(wide, rows, header=head)
    with pytest.raises(InputError) as err:
        read_table(wide, con=connect(), columns=select_columns("y_true", "f", "f_1"))
    assert str(err.value) == f"{wide}: column 'f' appears {WIDTH} times in the header; rename or drop the copies"


def test_a_selection_on_a_narrow_file_or_an_in_memory_table_keeps_the_source_order(files):
    _, narrow = files
    wanted = select_columns("y_pred", "id", prefixes=("proba_",))
    table = read_table(narrow, con=connect(), columns=wanted)
    assert list(table.columns) == ["id", "y_pred", "proba_a", "proba_b"]
    table = read_table({"b": [1], "a": [2], "c": [3]}, con=connect(), columns=select_columns("c", "a"))
    assert list(table.columns) == ["a", "c"]


@pytest.mark.filterwarnings("ignore::mlstrat.UndefinedMetricWarning")
def test_spark_reads_the_same_wide_csv_to_the_same_metrics(files, spark):
    from mlstrat.metrics import compute_metrics

    wide, _ = files
    on_spark = compute_metrics(str(wide), con=spark, test=True, store=False).to_dict()["splits"]
    assert on_spark == compute_metrics(str(wide), con=connect(), test=True, store=False).to_dict()["splits"]


def test_names_that_need_quoting_are_selected_as_written(tmp_path):
    """A keyword, a quote, a comma, spaces inside and non-Latin letters in the names of kept columns."""
    names = ["group", 'say "hi"', "a,b", "x y", "кот"]
    head = ",".join(['"' + n.replace('"', '""') + '"' for n in names] + [f"f{j}" for j in range(WIDTH)])
    rows = [",".join([str(i), "t", f'"{i},{i}"', "v", "w"] + ["1"] * WIDTH) for i in range(4)]
    wide = tmp_path / "names.csv"
    wide.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    con = connect()
    table = read_table(wide, con=con, columns=select_columns(*names))
    assert list(table.columns) == names
    assert max(_temp_table_widths(con).values()) == len(names)  # read column by column
    assert table.to_pyarrow().column("a,b").to_pylist() == ["0,0", "1,1", "2,2", "3,3"]
    assert table.to_pyarrow().column("group").to_pylist() == [0, 1, 2, 3]
