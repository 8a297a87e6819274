import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()


@pytest.fixture
def manifest(tmp_path):
    lines = ["id,label,domain,group,sha"]
    for i in range(300):
        lines.append(f"ex{i},{'cat' if i % 3 else 'dog'},{'app' if (i // 3) % 2 else 'web'},g{i // 3},h{i}")
    path = tmp_path / "m.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(*args):
    return runner.invoke(app, ["split", *map(str, args)])


def test_split_writes_output_and_renders(manifest, tmp_path):
    out = tmp_path / "out.parquet"
    res = invoke(manifest, "-o", out, "--label", "label", "--domain", "domain", "--target", "app")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "train-dev" in text and "no leakage" in text and f"wrote {out}" in text
    table = pq.read_table(out)
    assert table.num_rows == 300 and "split" in table.column_names
    assert set(table.column("split").to_pylist()) == {"train", "train_dev", "dev", "test"}


def test_json_summary(manifest, tmp_path):
    out = tmp_path / "out.csv"
    res = invoke(manifest, "-o", out, "--label", "label", "--target", "app", "--group", "group", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {"sizes", "by_domain", "by_label", "policy", "salt", "checks", "warnings"} <= set(data)
    assert data["policy"]["unit"] == "group" and data["output"] == str(out)
    assert sum(data["sizes"].values()) == 300
    assert data["by_domain"]["web"]["dev"] == 0


def test_default_output_name(manifest):
    res = invoke(manifest, "--dev-size", "10", "--test-size", "10")
    assert res.exit_code == 0, res.output
    assert (manifest.parent / "m.split.csv").exists()


def test_fail_on_leakage_exits_1(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,sha\n" + "\n".join(f"r{i},h{i % 20}" for i in range(100)) + "\n")
    res = invoke(path, "-o", tmp_path / "o.parquet", "--content", "sha", "--fail-on", "leakage",
                 "--dev-size", "20", "--test-size", "20")
    assert res.exit_code == 1
    assert "leakage:" in res.output and "content sha=" in res.output
    ok = invoke(path, "-o", tmp_path / "o2.parquet", "--content", "sha", "--group", "sha", "--fail-on", "leakage",
                "--dev-size", "20", "--test-size", "20")
    assert ok.exit_code == 0, ok.output


def test_lock_created_then_reused(manifest, tmp_path):
    lock = tmp_path / "split.lock.csv"
    first = invoke(manifest, "-o", tmp_path / "a.parquet", "--lock", lock, "--dev-size", "30", "--test-size", "30")
    assert first.exit_code == 0, first.output
    assert lock.exists() and f"lock {lock}: written" in " ".join(first.output.split())
    bigger = tmp_path / "m2.csv"
    bigger.write_text(manifest.read_text() + "".join(f"new{i},cat,app,gn{i},x{i}\n" for i in range(50)))
    second = invoke(bigger, "-o", tmp_path / "b.parquet", "--lock", lock, "--dev-size", "30", "--test-size", "30")
    assert second.exit_code == 0, second.output
    a = dict(zip(*pq.read_table(tmp_path / "a.parquet").select(["id", "split"]).to_pydict().values()))
    b = dict(zip(*pq.read_table(tmp_path / "b.parquet").select(["id", "split"]).to_pydict().values()))
    assert all(b[k] == v for k, v in a.items()) and len(b) == 350
    # a previous output used as lock is read, never rewritten
    third = invoke(bigger, "-o", tmp_path / "c.parquet", "--lock", tmp_path / "a.parquet")
    assert third.exit_code == 0 and "a previous output, read only" in " ".join(third.output.split())


@pytest.mark.parametrize("args, message", [
    (["{missing}"], "no such file; check the path"),
    (["{m}", "--id", "key"], "missing id column 'key'"),
    (["{m}", "--target", "tablet"], "target 'tablet' does not occur in column 'domain'"),
    (["{m}", "--dev-size", "0"], "dev_size: '0' must be positive"),
    (["{m}", "--dev-size", "-3"], "dev_size: '-3' must be positive"),
    (["{m}", "--dev-size", "200", "--test-size", "200"], "but only 300 eligible rows"),
    (["{m}", "-o", "{m}"], "the output path is the input file"),
    (["{m}", "--fail-on", "leak"], "--fail-on: unknown value 'leak'"),
    (["{m}", "-o", "{tmp}/no/such/dir/o.parquet"], "does not exist; create it first"),
    (["{m}", "-o", "{tmp}/o.xlsx"], "tables are written as"),
    (["{dup}"], "has duplicate ids"),
    (["{nulls}"], "empty id(s)"),
    (["{empty}"], "the table has no rows"),
    (["{bad}"], "unknown file type '.xls'"),
    (["{corrupt}"], "cannot be read as PARQUET"),
])
def test_bad_input_exit_2_no_traceback_no_file(manifest, tmp_path, args, message):
    (tmp_path / "dup.csv").write_text("id\na\na\n")
    (tmp_path / "nulls.csv").write_text("id,x\n,1\nb,2\n")
    (tmp_path / "empty.csv").write_text("id,x\n")
    (tmp_path / "bad.xls").write_text("id\n1\n")
    (tmp_path / "corrupt.parquet").write_bytes(b"not a parquet file at all")
    before = set(tmp_path.rglob("*"))
    fmt = {"m": manifest, "missing": tmp_path / "missing.csv", "tmp": tmp_path, "dup": tmp_path / "dup.csv",
           "nulls": tmp_path / "nulls.csv", "empty": tmp_path / "empty.csv", "bad": tmp_path / "bad.xls",
           "corrupt": tmp_path / "corrupt.parquet"}
    res = invoke(*[a.format(**fmt) for a in args])
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split())
    assert "Traceback" not in res.output
    assert set(tmp_path.rglob("*")) == before


def test_existing_output_needs_force(manifest, tmp_path):
    out = tmp_path / "o.parquet"
    assert invoke(manifest, "-o", out).exit_code == 0
    res = invoke(manifest, "-o", out)
    assert res.exit_code == 2 and "already exists; pass --force" in res.output
    assert invoke(manifest, "-o", out, "--force").exit_code == 0


def test_memory_limit_option(manifest, tmp_path):
    res = invoke(manifest, "-o", tmp_path / "o.parquet", "--memory-limit", "500MB", "--json")
    assert res.exit_code == 0, res.output


def test_the_data_checks_come_with_the_split(tmp_path):
    # a constant column and an imbalanced label: reported with the split, failing only when asked
    path = tmp_path / "m.csv"
    path.write_text("id,label,source\n" + "".join(f"r{i},{'rare' if i < 3 else 'common'},web\n" for i in range(200)))
    res = invoke(path, "-o", tmp_path / "o.parquet", "--label", "label", "--json")
    assert res.exit_code == 0, res.output
    checks = json.loads(res.stdout)["data_checks"]
    assert checks["rows"] == 200
    assert checks["counts"]["constant"] == 200  # rows of the constant column
    assert [f["column"] for f in checks["findings"] if f["check"] == "constant"] == ["source"]
    assert checks["counts"]["label_imbalance"] >= 1
    shown = invoke(path, "-o", tmp_path / "o2.parquet", "--label", "label")
    assert shown.exit_code == 0 and "Data checks:" in shown.output and "constant" in shown.output
    failing = invoke(path, "-o", tmp_path / "o3.parquet", "--label", "label", "--fail-on", "leakage,constant")
    assert failing.exit_code == 1, failing.output
    skipped = invoke(path, "-o", tmp_path / "o4.parquet", "--no-checks", "--fail-on", "constant", "--json")
    assert skipped.exit_code == 0 and json.loads(skipped.stdout)["data_checks"] is None


def test_fail_on_names_every_allowed_value(manifest, tmp_path):
    res = invoke(manifest, "-o", tmp_path / "o.parquet", "--fail-on", "leakage,nul")
    assert res.exit_code == 2
    assert " ".join(res.output.split()) == (
        "Error: --fail-on: unknown value 'nul'; allowed: leakage, nulls, constant, all_unique, label_imbalance, "
        "label_one_domain, duplicates, duplicates_in_train, outliers, label_like_id")
