"""split on empty labels, bytes columns and splits left without rows: counted, refused or shown, never a crash."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat import InputError, split
from mlstrat.cli import app

runner = CliRunner()


def _write(tmp_path, **columns) -> str:
    path = tmp_path / "manifest.parquet"
    pq.write_table(pa.table(columns), path)
    return str(path)


def test_empty_labels_are_counted_and_reported(tmp_path):
    n = 40
    labels = [None if i % 5 == 0 else "ab"[i % 2] for i in range(n)]
    path = _write(tmp_path, id=[f"i{i}" for i in range(n)], label=labels)
    with pytest.warns(UserWarning, match=re.escape(
            "column 'label' has 8 empty label(s); they are split like the other rows and counted as the label "
            "'(empty)' in the label checks (fill or drop them)")):
        result = split(path, label="label")
    summary = result.summary
    assert summary["checks"]["empty_labels"] == 8
    assert sum(summary["by_label"]["(empty)"].values()) == 8 and "None" not in summary["by_label"]
    assert sum(sum(v.values()) for v in summary["by_label"].values()) == n
    res = runner.invoke(app, ["split", path, "-o", str(tmp_path / "out.parquet"), "--label", "label", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output[res.output.index("{"):])["checks"]["empty_labels"] == 8


@pytest.mark.parametrize("flag, column", [("--id", "id"), ("--label", "label"), ("--group", "group")])
def test_bytes_columns_are_refused_naming_the_column_and_flag(tmp_path, flag, column):
    n = 20
    columns = {"id": [f"i{i}" for i in range(n)], "label": ["ab"[i % 2] for i in range(n)],
               "group": [f"g{i % 4}" for i in range(n)]}
    columns[column] = [c.encode() for c in columns[column]]
    path = _write(tmp_path, **columns)
    message = (f"{path}: column {column!r} ({flag}) holds bytes (binary); ids, labels, domains and groups are "
               "hashed and compared as text, which engines spell differently for bytes: write the column as text "
               "(e.g. hex) or integers")
    with pytest.raises(InputError, match=re.escape(message)):
        split(path, **({"label": "label", "group": "group"} if column != "id" else {}))
    args = ["split", path, "-o", str(tmp_path / "o.parquet")] + ([flag, column] if column != "id" else [])
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert [line for line in res.output.splitlines() if line.startswith("Error: ")] == [f"Error: {message}"]


def test_a_target_split_left_without_rows_is_shown_not_a_crash(tmp_path):
    """Few target groups: dev gets no rows, its purity is undefined ('no rows'), not a number to format."""
    n = 40
    path = _write(tmp_path, id=[f"i{i}" for i in range(n)], label=["ab"[i % 2] for i in range(n)],
                  domain=["w" if i % 2 else "x" for i in range(n)], group=[f"g{i % 4}" for i in range(n)])
    args = ["split", path, "-o", str(tmp_path / "o.parquet"), "--label", "label", "--domain", "domain",
            "--target", "w", "--group", "group"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "dev no rows" in " ".join(res.output.split())
