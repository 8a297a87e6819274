"""Messages from the command line name the flags that fix them, and --split takes the aliases tables take."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mlstrat import ConfigError, InputError
from mlstrat.cli import app
from mlstrat.cli._flags import canonical_split, reword

runner = CliRunner()


def _error(args) -> str:
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, res.output
    return lines[0]


@pytest.fixture
def no_split(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,fold,y_true,y_pred\n1,dev,a,b\n2,dev,a,a\n")
    return path


@pytest.mark.parametrize("command", [["metrics"], ["diagnose", "--no-record"]])
def test_a_missing_split_column_names_split_col(no_split, command):
    assert _error([command[0], no_split, *command[1:]]) == (
        f"Error: {no_split}: missing column 'split'; available columns: id, fold, y_true, y_pred; if it has another "
        "name, give it with --split-col")
    res = runner.invoke(app, [command[0], str(no_split), *command[1:], "--split-col", "fold", "--json"])
    assert res.exit_code == 0, res.output


def test_commands_without_the_flag_do_not_invent_one(no_split):
    assert _error(["labels", no_split]) == (
        f"Error: {no_split}: missing column 'split'; available columns: id, fold, y_true, y_pred")


def test_a_missing_id_column_names_id(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("key,label\n1,a\n2,b\n")
    assert _error(["split", path, "-o", tmp_path / "o.csv"]) == (
        f"Error: {path}: missing id column 'id'; available columns: key, label; if it has another name, give it "
        "with --id")
    # the flag the user gave is not suggested again
    assert _error(["split", path, "-o", tmp_path / "o.csv", "--id", "kee"]) == (
        f"Error: {path}: missing id column 'kee' (did you mean 'key'?); available columns: key, label")


def test_mismatch_names_flags_not_python_arguments(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,domain,a,b\n1,x,1,2\n2,y,3,4\n3,x,1,1\n4,y,2,2\n")
    assert _error(["mismatch", path, "--target", "x"]) == (
        "Error: give exactly one feature source: --features, --feature-prefix, --image-col or --embedding-col "
        "(got none)")
    assert _error(["mismatch", path, "--target", "x", "--features", "a", "--feature-prefix", "b"]) == (
        "Error: give exactly one feature source: --features, --feature-prefix, --image-col or --embedding-col "
        "(got --features and --feature-prefix)")


def test_the_library_keeps_its_own_names():
    from mlstrat.mismatch import analyze_mismatch

    with pytest.raises(ConfigError, match=r"^give exactly one feature source: features, feature_prefix, image_col "
                                          r"or embedding_col \(got none\)$"):
        analyze_mismatch("unused.csv", domain="domain", target="x")


def test_reword_leaves_quoted_text_and_other_words_alone():
    exc = InputError("column 'feature_prefix' is not feature_prefix; features_x and features stay 'features'",
                     arguments=("feature_prefix", "features"))
    flags = {"feature_prefix": "--feature-prefix", "features": "--features"}
    assert reword(exc, flags) == ("column 'feature_prefix' is not --feature-prefix; features_x and --features stay "
                                  "'features'")


@pytest.mark.parametrize("alias, name", [("validation", "dev"), ("val", "dev"), ("train-dev", "train_dev"),
                                         ("TRAIN", "train"), (" Test ", "test"), ("nope", "nope")])
def test_split_aliases_read_as_tables_read_them(alias, name):
    assert canonical_split(alias) == name


@pytest.fixture
def preds(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,split,y_true,y_pred\n" + "".join(
        f"r{i},{('train', 'dev', 'train_dev')[i % 3]},a,{'ab'[i % 4 == 0]}\n" for i in range(60)))
    return path


@pytest.mark.parametrize("alias, name", [("validation", "dev"), ("train-dev", "train_dev")])
def test_split_aliases_on_the_command_line(tmp_path, preds, alias, name):
    def out(split):
        res = runner.invoke(app, ["metrics", str(preds), "--split", split, "--json"])
        assert res.exit_code == 0, res.output
        return json.JSONDecoder().raw_decode(res.stdout)[0]

    assert out(alias) == out(name)
    for split, sheet in ((alias, "a.csv"), (name, "b.csv")):
        res = runner.invoke(app, ["errors", "sample", str(preds), "--split", split, "-o", str(tmp_path / sheet)])
        assert res.exit_code == 0, res.output
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_split_aliases_in_the_by_breakdown(tmp_path):
    preds = tmp_path / "p.csv"
    preds.write_text("id,split,y_true,y_pred,source\n" + "".join(
        f"r{i},{('train', 'dev')[i % 2]},a,{'ab'[i % 4 == 1]},{'xy'[i % 3 == 0]}\n" for i in range(80)))

    def out(split):
        res = runner.invoke(app, ["diagnose", str(preds), "--no-record", "--by", "source", "--split", split,
                                  "--json"])
        assert res.exit_code == 0, res.output
        return json.JSONDecoder().raw_decode(res.stdout)[0]

    assert out("validation") == out("dev")


@pytest.mark.parametrize("command", [["metrics"], ["diagnose", "--no-record"], ["metrics", "--by", "id"],
                                     ["metrics", "--split-col", "fold"]])
def test_a_mapped_table_is_named_by_its_file(tmp_path, command):
    # a table whose splits or columns the CLI maps reaches the library as an Ibis table: its
    # messages used to name it '<ibis.Table>' instead of the file the user gave
    path = tmp_path / "p.csv"
    split = "fold" if "--split-col" in command else "split"
    path.write_text(f"id,{split},y_true,y_pred\n1,train,a,a\n2,validation,,b\n3,validation,b,b\n")
    assert _error([command[0], path, *command[1:]]) == (
        f"Error: {path}: column 'y_true' has 1 empty/NaN value(s); every row needs a label (drop or fill those rows)")
    second = tmp_path / "q.csv"  # the next command in the same process names its own file
    second.write_text("id,split,y_true,y_pred\n1,val,,b\n")
    assert _error(["metrics", second]) == (
        f"Error: {second}: column 'y_true' has 1 empty/NaN value(s); every row needs a label (drop or fill those rows)")
