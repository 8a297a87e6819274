import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()


def test_demo_builds_and_splits_the_digits_scenario(tmp_path):
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "digits scenario" in res.output and "dev/test purity ('app')" in res.output
    table = pq.read_table(out / "split.parquet")
    assert table.num_rows == 1797
    rows = table.select(["domain", "split"]).to_pylist()
    assert all(r["domain"] == "app" for r in rows if r["split"] in ("dev", "test"))
    # re-runnable: overwrites its own outputs
    again = runner.invoke(app, ["demo", "-o", str(out), "--json"])
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert sum(data["sizes"].values()) == 1797 and data["policy"]["target"] == "app"
    assert data["checks"]["domain_purity"]["ok"] is True


def test_demo_refuses_a_file_as_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    res = runner.invoke(app, ["demo", "-o", str(f)])
    assert res.exit_code == 2 and "is not a folder" in res.output
