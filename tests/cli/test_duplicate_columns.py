"""A header that names a column twice is refused in one line (exit 2), for every command's input:
DuckDB would rename the copy (``y_pred_1``) and the command would silently use the first."""

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from mlstrat.cli import app
from tests.errors._data import simple_predictions, write

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line(text: str) -> str:
    return " ".join(text.split())


PREDICTIONS = "id,split,y_true,y_pred,y_pred\n1,dev,a,a,b\n2,dev,b,b,a\n3,test,a,b,a\n"


def test_metrics_refuses_a_csv_with_a_column_twice(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(PREDICTIONS)
    r = invoke("metrics", path)
    assert r.exit_code == 2
    assert one_line(r.output) == f"Error: {path}: column 'y_pred' appears 2 times in the header; rename or drop the copies"


def test_metrics_refuses_a_parquet_with_a_field_twice(tmp_path):
    path = tmp_path / "p.parquet"
    columns = [pa.array(v) for v in (["1", "2"], ["dev", "dev"], ["a", "b"], [0.9, 0.2], [0.1, 0.8], [0.3, 0.4])]
    pq.write_table(pa.Table.from_arrays(columns, names=["id", "split", "y_true", "proba_a", "proba_b", "proba_a"]),
                   path)
    r = invoke("metrics", path, "--json")
    assert r.exit_code == 2
    assert one_line(r.output) == (f"Error: {path}: column 'proba_a' appears 2 times in the header; "
                                  "rename or drop the copies")


def test_metrics_refuses_names_that_differ_only_in_case(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(PREDICTIONS.replace("y_pred\n", "Y_Pred\n", 1))
    r = invoke("metrics", path)
    assert r.exit_code == 2
    assert one_line(r.output) == (
        f"Error: {path}: column 'y_pred' appears 2 times in the header (as 'y_pred' and 'Y_Pred', which DuckDB "
        "takes for one name); rename or drop the copies")


def test_metrics_reads_y_pred_1_beside_y_pred(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(PREDICTIONS.replace("y_pred\n", "y_pred_1\n", 1))
    r = invoke("metrics", path, "--json")
    assert r.exit_code == 0, r.output


def test_split_refuses_a_manifest_with_a_column_twice(tmp_path):
    path = tmp_path / "m.tsv"
    path.write_text("id\tlabel\tlabel\n" + "".join(f"ex{i}\tcat\tdog\n" for i in range(50)))
    r = invoke("split", path, "-o", tmp_path / "out.csv", "--label", "label")
    assert r.exit_code == 2
    assert one_line(r.output) == f"Error: {path}: column 'label' appears 2 times in the header; rename or drop the copies"
    assert not (tmp_path / "out.csv").exists()


def test_errors_summarize_refuses_a_sheet_with_a_column_twice(tmp_path):
    """The sheet is read by Python's csv module (not the engine), which refuses its own way."""
    preds = write(simple_predictions(), tmp_path / "preds.csv")
    sheet = tmp_path / "s.csv"
    assert invoke("errors", "sample", preds, "-o", sheet, "-n", "3", "--categories", "blurry").exit_code == 0
    df = pd.read_csv(sheet, dtype=str, keep_default_na=False)
    df.insert(len(df.columns), "blurry_copy", ["1", "", ""])
    df.to_csv(sheet, index=False, header=[*df.columns[:-1], "blurry"])
    r = invoke("errors", "summarize", sheet)
    assert r.exit_code == 2
    assert one_line(r.output) == (f"Error: {sheet}: column 'blurry' appears twice in the header "
                                  "(duplicate category name); rename or merge one of them")


def test_errors_sample_refuses_predictions_with_a_column_twice(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,split,y_true,y_true,y_pred\n1,dev,a,a,b\n2,dev,b,b,a\n3,dev,a,a,a\n")
    r = invoke("errors", "sample", path, "-o", tmp_path / "s.csv")
    assert r.exit_code == 2
    assert one_line(r.output) == f"Error: {path}: column 'y_true' appears 2 times in the header; rename or drop the copies"
