"""On Spark a header that names a column twice gets mlstrat's line too: Spark itself renames CSV
copies (``y_pred2``, ``y_pred3``, case ignored) and refuses Parquet ones in its own words."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app

# every Spark test on one xdist worker (`--dist loadgroup`): one JVM for the suite, not one per worker
pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def test_duplicated_names_are_one_line_exit_2_on_spark(spark, tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text("id,split,y_true,y_pred,Y_PRED\n1,dev,a,a,b\n2,dev,b,b,a\n")
    parquet = tmp_path / "p.parquet"
    columns = [pa.array(v) for v in (["1"], ["dev"], ["a"], ["a"], ["b"])]
    pq.write_table(pa.Table.from_arrays(columns, names=["id", "split", "y_true", "y_pred", "y_pred"]), parquet)
    expected = {
        csv: f"Error: {csv}: column 'y_pred' appears 2 times in the header (as 'y_pred' and 'Y_PRED', which "
             "Spark takes for one name); rename or drop the copies",
        parquet: f"Error: {parquet}: column 'y_pred' appears 2 times in the header; rename or drop the copies",
    }
    for path, line in expected.items():
        r = CliRunner().invoke(app, ["metrics", str(path), "--engine", "spark"])
        assert r.exit_code == 2, r.output
        assert " ".join(r.output.split()) == line
