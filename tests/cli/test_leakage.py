import json

import pytest
from typer.testing import CliRunner

from mlstrat.cli import app

runner = CliRunner()


@pytest.fixture
def manifest(tmp_path):
    """The same caption plus a trailing "." in train and test; a copy inside train; a distinct dev row."""
    path = tmp_path / "m.csv"
    path.write_text(
        "id,split,caption,x\n"
        "t1,train,A brown dog runs on the beach,1.0\n"
        "s1,test,A brown dog runs on the beach.,2.0\n"
        "d1,dev,[red]Two cats[/red] sleep on a sofa,3.0\n"
        "t2,train,Kites fly over the green hill,4.0\n"
        "t3,train,kites fly over the green hill!,4.0000000001\n"
    )
    return path


def invoke(*args):
    return runner.invoke(app, ["leakage", *map(str, args)])


def test_json_counts_per_split_pair(manifest):
    res = invoke(manifest, "--text", "caption", "--numeric", "x", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["rows"] == 5 and out["leakage"] and out["in_train"]
    text, numeric = out["findings"]
    counts = {tuple(c["splits"]): (c["rows"], c["pairs"]) for c in text["counts"]}
    assert counts == {("train", "dev"): (0, 0), ("train", "test"): (1, 1), ("dev", "test"): (0, 0),
                      ("train", "train"): (2, 1)}
    numeric_counts = {tuple(c["splits"]): (c["rows"], c["pairs"]) for c in numeric["counts"]}
    assert numeric_counts[("train", "train")] == (2, 1) and numeric["leaked_rows"] == 0
    assert out["thresholds"] == {"text_jaccard": 0.8, "shingle_chars": 5, "hamming_bits": 8, "hash_bits": 64,
                                 "numeric_digits": 6}


def test_rendering_names_pairs_and_escapes_data(manifest):
    res = invoke(manifest, "--text", "caption")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "train - test │ 1 │ 1 │ t1 ~ s1 (1)" in text
    assert "inside train │ 2 │ 1 │ t2 ~ t3 (1)" in text
    assert "near-duplicate leakage: 1 row(s) have a near-duplicate in an earlier split" in text
    assert "rule: Jaccard >= 0.8 of 5-character shingles (case, punctuation and spacing ignored); 5 rows compared" in text


def test_fail_on_leakage_exits_1(manifest):
    assert invoke(manifest, "--text", "caption", "--fail-on", "leakage").exit_code == 1
    assert invoke(manifest, "--numeric", "x", "--fail-on", "leakage").exit_code == 0  # only inside train
    assert invoke(manifest, "--numeric", "x", "--fail-on", "duplicates_in_train").exit_code == 1


def test_no_leakage_exits_0(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,split,caption\n1,train,a red kite\n2,test,two black cats\n")
    res = invoke(path, "--text", "caption", "--fail-on", "leakage")
    assert res.exit_code == 0, res.output
    assert "no near-duplicate leakage across splits" in res.output


def test_split_col_reads_another_column(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,fold,caption\n1,train,a red kite\n2,val,A red kite.\n")
    out = json.loads(invoke(path, "--text", "caption", "--split-col", "fold", "--json").stdout)
    assert {tuple(c["splits"]): c["rows"] for c in out["findings"][0]["counts"]} == {("train", "dev"): 1,
                                                                                     ("train", "train"): 0}


@pytest.mark.parametrize(("args", "message"), [
    (["--text", "capton"], "m.csv: missing text column 'capton' (did you mean 'caption'?); available "
                           "columns: id, split, caption, x"),
    ([], "Error: no content to compare: name its columns with --text, --images, --pixels or --numeric"),
    (["--text", "caption", "--split-col", "fold"], "m.csv: missing split column 'fold'; available columns: "
                                                   "id, split, caption, x"),
    (["--text", "caption", "--jaccard", "2"], "Error: --jaccard: 2.0 must lie in (0, 1], e.g. 0.8"),
    (["--text", "caption", "--fail-on", "everything"], "Error: --fail-on: unknown value 'everything'; allowed: "
                                                       "leakage, duplicates_in_train"),
    (["--images", "caption"], "m.csv: row id 't1': cannot read image"),
])
def test_bad_input_is_one_line_exit_2(manifest, args, message):
    res = invoke(manifest, *args)
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert text.startswith("Error: ") and message in text and "Traceback" not in res.output
    assert text.count("Error:") == 1


def test_split_reports_near_duplicate_leakage(tmp_path):
    path = tmp_path / "s.csv"
    rows = [f"{i},caption {i} of a long series about kites and hills {i * 7919 % 1000}" for i in range(100)]
    rows += [f"{i}b,caption {i} of a long series about kites and hills {i * 7919 % 1000}." for i in range(100)]
    path.write_text("id,caption\n" + "\n".join(rows) + "\n")
    res = runner.invoke(app, ["split", str(path), "--near-duplicates", "caption", "--fail-on", "leakage", "--json"])
    assert res.exit_code == 1, res.output
    leak = json.loads(res.stdout)["checks"]["leakage"]
    assert leak["found"] and leak["near_duplicates_across_splits"] > 0
    clean = runner.invoke(app, ["split", str(path), "--content", "caption", "--fail-on", "leakage", "--force"])
    assert clean.exit_code == 0
    assert ("no leakage (ids, groups, content); exact copies only: --near-duplicates COLS also finds edited "
            "copies") in " ".join(clean.output.split())
