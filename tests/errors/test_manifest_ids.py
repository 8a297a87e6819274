"""errors sample --manifest: a manifest that shares no id with the predictions is refused, a partial one warned."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from mlstrat import InputError, MlstratWarning
from mlstrat.cli import app
from mlstrat.errors import sample_errors


@pytest.fixture
def preds(tmp_path):
    path = tmp_path / "preds.csv"
    path.write_text("id,split,y_true,y_pred\n" + "".join(f"r{i},dev,a,{'ab'[i % 2]}\n" for i in range(10)))
    return path


def _manifest(tmp_path, ids):
    path = tmp_path / "manifest.csv"
    path.write_text("id,path\n" + "".join(f"{i},img/{i}.png\n" for i in ids))
    return path


def test_no_matching_id_is_one_line_naming_both_files_and_columns(tmp_path, preds):
    manifest = _manifest(tmp_path, [f"x{i}" for i in range(10)])
    message = (f"{preds}: no id matches the manifest {manifest}: the predictions' column 'id' (e.g. 'r0') and the "
               "manifest's column 'id' (e.g. 'x0') share no value; give the manifest these predictions were made "
               "from (--manifest), or name its id column in the run's config ([data] id)")
    with pytest.raises(InputError, match=re.escape(message)):
        sample_errors(preds, output=tmp_path / "s.csv", manifest=manifest)
    res = CliRunner().invoke(app, ["errors", "sample", str(preds), "-o", str(tmp_path / "s.csv"),
                                   "--manifest", str(manifest)])
    assert res.exit_code == 2, res.output
    assert [line for line in res.output.splitlines() if line.startswith("Error: ")] == [f"Error: {message}"]
    assert not (tmp_path / "s.csv").exists()


def test_partial_matches_are_a_warning_with_the_count(tmp_path, preds):
    manifest = _manifest(tmp_path, [f"r{i}" for i in range(7)])
    with pytest.warns(MlstratWarning, match=re.escape(
            f"{manifest}: 3 of 10 predictions row(s) have no id in the manifest; their manifest columns are empty")):
        result = sample_errors(preds, output=tmp_path / "s.csv", manifest=manifest)
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert rows[0].startswith("id,y_true,y_pred,path") and result.sample_size == 5
    assert "r1,a,b,img/r1.png," in rows and "r9,a,b,," in rows


def test_every_id_matching_warns_nothing(tmp_path, preds, recwarn):
    sample_errors(preds, output=tmp_path / "s.csv", manifest=_manifest(tmp_path, [f"r{i}" for i in range(10)]))
    assert not [w for w in recwarn if issubclass(w.category, MlstratWarning)]
