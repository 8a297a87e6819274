import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.splits._data_checks import CHECKS

runner = CliRunner()


@pytest.fixture
def manifest(tmp_path):
    """A constant column, a free-text column, one outlier, a label of one domain, one copied row."""
    path = tmp_path / "m.csv"
    path.write_text(
        "id,label,domain,x,k,note\n"
        "1,a,web,1.0,z,[red]boom[/red]\n"
        "2,a,app,1.2,z,b\n"
        "3,b,web,0.9,z,c\n"
        "4,a,web,1.1,z,d\n"
        "5,a,app,90,z,e\n"
        "6,a,web,1.0,z,f\n"
    )
    return path


def invoke(*args):
    return runner.invoke(app, ["check", *map(str, args)])


def test_json_counts_equal_pandas(manifest):
    res = invoke(manifest, "--label", "label", "--domain", "domain", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    df = pd.read_csv(manifest)
    assert out["rows"] == len(df) and out["columns"] == list(df.columns)
    assert list(out["counts"]) == list(CHECKS)
    found = {(f["check"], f["column"]): f["count"] for f in out["findings"]}
    assert found == {("constant", "k"): len(df), ("all_unique", "note"): df["note"].nunique(),
                     ("label_one_domain", "label"): int((df.groupby("label")["domain"].nunique() == 1).sum()),
                     ("outliers", "x"): 1}
    assert all(f["fix"] for f in out["findings"])


def test_rendering_lists_the_findings(manifest):
    res = invoke(manifest, "--label", "label")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert f"Data checks: {manifest} (6 rows)" in text
    assert "constant" in text and "outliers" in text and "label_one_domain" not in text  # no --domain


def test_markup_in_a_column_name_prints_as_itself(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,[bold]k\n1,z\n2,z\n")
    res = runner.invoke(app, ["check", str(path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "'[bold]k' holds one value in all 2 rows" in res.output


def test_clean_data_says_so(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,label,x\n1,a,1.5\n2,b,2.0\n3,a,1.0\n4,b,2.5\n")
    res = runner.invoke(app, ["check", str(path), "--label", "label"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"no findings in {path} (4 rows)"


@pytest.mark.parametrize(("fail_on", "code"), [
    ("outliers", 1), ("constant,nulls", 1), ("nulls", 0), ("duplicates, label_imbalance", 0),
    ("label_one_domain", 1)])
def test_fail_on_exits_1_only_for_the_named_checks(manifest, fail_on, code):
    res = invoke(manifest, "--label", "label", "--domain", "domain", "--fail-on", fail_on, "--json")
    assert res.exit_code == code, res.output
    assert json.loads(res.stdout)["rows"] == 6  # the findings are printed either way


def test_unknown_fail_on_is_one_line_exit_2(manifest):
    res = invoke(manifest, "--fail-on", "outliers,nul")
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        "Error: --fail-on: unknown check 'nul'; allowed: " + ", ".join(CHECKS)]


@pytest.mark.parametrize(("flag", "role"), [("--label", "label"), ("--domain", "domain"), ("--group", "group"),
                                            ("--id", "id")])
def test_a_bad_column_name_is_one_line_exit_2(manifest, flag, role):
    res = invoke(manifest, flag, "lable")
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {manifest}: missing {role} column 'lable'")
    assert "available columns: id, label, domain, x, k, note" in lines[0]


def test_a_missing_file_is_one_line_exit_2(tmp_path):
    res = invoke(tmp_path / "nope.csv")
    assert res.exit_code == 2
    assert len(res.output.strip().splitlines()) == 1 and "nope.csv" in res.output


def test_a_long_column_name_is_shown_whole_at_80_columns(tmp_path):
    name = "customer_lifetime_value_in_euros_2024"
    path = tmp_path / "m.csv"
    path.write_text(f"id,label,{name}\n" + "".join(f"{i},{i % 2},7\n" for i in range(20)))
    r = runner.invoke(app, ["check", str(path), "--label", "label"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert "…" not in r.output
    cells = [line.split("│")[2].strip() for line in r.stdout.splitlines() if line.startswith("│")]
    assert name in "".join(cells)  # the constant column's name, folded over lines, not cut
